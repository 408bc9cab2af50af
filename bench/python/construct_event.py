"""Time stripe-python's Webhook.construct_event on the event bodies in ../data.

For each file the body is signed once with the current time. construct_event then
runs on it repeatedly, first as untimed warm-up and then as timed calls. Each timed
call is measured on its own with time.perf_counter_ns, and one JSON line per file
goes to stdout.

The payload is passed as bytes, the type that Flask's request.data and Django's
request.body return for a raw body. construct_event then pays for decoding it.
"""

import argparse
import hashlib
import hmac
import json
import math
import pathlib
import platform
import time

import stripe

SECRET = "whsec_bench_0123456789abcdefghijklmnopqrstuv"
DATA_DIR = pathlib.Path(__file__).resolve().parent.parent / "data"
DATA_FILES = ("charge-5k.json", "charge-100k.json")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds",
        type=float,
        default=2.0,
        help="time budget for the timed calls on each file, in seconds (default: 2)",
    )
    parser.add_argument(
        "--iterations",
        type=int,
        help="run exactly this many timed calls per file instead of using --seconds; "
        "the whole run must finish within the SDK's 300 s timestamp tolerance",
    )
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        default=0.5,
        help="untimed calls before the timed ones on each file, in seconds (default: 0.5)",
    )
    args = parser.parse_args()
    if args.iterations is not None and args.iterations < 1:
        parser.error(f"--iterations must be an integer of at least 1, got {args.iterations}")
    if args.seconds <= 0:
        parser.error(f"--seconds must be a positive number, got {args.seconds}")
    if args.warmup_seconds < 0:
        parser.error(f"--warmup-seconds must be zero or more, got {args.warmup_seconds}")
    return args


def sign(body, timestamp):
    """Build a Stripe-Signature header value: t=<timestamp>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    signed_payload = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(SECRET.encode("utf-8"), signed_payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def percentile(sorted_values, fraction):
    """Return the nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def time_calls(body, header, args):
    """Return the duration of each timed construct_event call, in nanoseconds."""
    construct_event = stripe.Webhook.construct_event

    warmup_end = time.perf_counter() + args.warmup_seconds
    while time.perf_counter() < warmup_end:
        construct_event(body, header, SECRET)

    durations = []
    if args.iterations is not None:
        for _ in range(args.iterations):
            start = time.perf_counter_ns()
            construct_event(body, header, SECRET)
            durations.append(time.perf_counter_ns() - start)
        return durations

    deadline = time.perf_counter_ns() + int(args.seconds * 1e9)
    while True:
        start = time.perf_counter_ns()
        construct_event(body, header, SECRET)
        end = time.perf_counter_ns()
        durations.append(end - start)
        if end >= deadline:
            return durations


def bench_file(name, args):
    body = (DATA_DIR / name).read_bytes()
    header = sign(body, int(time.time()))

    # Check once, untimed, that verification passes and the event has the file's id.
    event = stripe.Webhook.construct_event(body, header, SECRET)
    expected_id = json.loads(body)["id"]
    if event.id != expected_id:
        raise SystemExit(f"{name}: construct_event returned event {event.id!r}, expected {expected_id!r}")

    durations = sorted(time_calls(body, header, args))
    return {
        "impl": "stripe-python",
        "version": stripe.VERSION,
        "python": platform.python_version(),
        "file": name,
        "body_bytes": len(body),
        "iterations": len(durations),
        "mean_us": round(sum(durations) / len(durations) / 1000, 3),
        "p50_us": round(percentile(durations, 0.50) / 1000, 3),
        "p99_us": round(percentile(durations, 0.99) / 1000, 3),
    }


def main():
    args = parse_args()
    for name in DATA_FILES:
        print(json.dumps(bench_file(name, args), separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
