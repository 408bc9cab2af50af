#!/usr/bin/env python3
"""Split a `perf script` profile of the receiver into shares by component.

Usage:
    perf script -i perf.data --comm stripe-eventbri | python3 bench/profile_shares.py
    perf script -i perf.data --comm stripe-eventbri | python3 bench/profile_shares.py --init

The first form splits warm invocations (figure 3 of BENCHMARKS.md), the
second, with its own components, the start of the process (figure 4).

Each sample is counted under the first component of the table whose pattern
matches any frame of its stack. The order puts callees before their callers:
a SigV4 HMAC counts for signing, not for the handler that started the call,
and a socket write counts for the component that wrote. Stacks that match no component
count under the table's fallback, or under "other". The share of samples
taken in the kernel is printed apart, whatever component they count for.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

# (component, where to look, pattern), callees before callers.
# "path" patterns match a frame's function path without generic arguments,
# so a type named in an argument does not count.
# "symbol" patterns match the whole symbol, because there the type arguments
# show whose code runs: hyper's client writes both the SDK's requests and the
# Runtime API's.
# serde_json's reader outside the envelope parse is the event read, because
# the SDK's JSON is aws_smithy_json and logs are matched first.
WARM = [
    ("AWS SDK: JSON escaping of Detail", "path", re.compile(r"aws_smithy_json::escape")),
    ("AWS SDK: SigV4 signing", "path", re.compile(r"aws_sigv4|SigV4Signer|sign_request")),
    ("AWS SDK: request serialisation", "path", re.compile(r"ser_put_events|PutEventsRequestSerializer")),
    ("receiver: verify, UTF-8, envelope, entry", "path",
     re.compile(r"stripe_eventbridge::(signature|event|entry|handler::signature_header)|simdutf8|sha2::|hmac::")),
    ("logs and metrics", "path", re.compile(r"tracing_subscriber|stripe_eventbridge::(metrics|logging)")),
    ("event JSON read into WebhookRequest", "path", re.compile(r"stripe_eventbridge::request|serde_json::(de|read)::")),
    ("AWS SDK: orchestrator, HTTP client, response", "symbol",
     re.compile(r"aws_smithy|aws_sdk_|aws_runtime|aws_types|SdkBody")),
    ("receiver: handler", "path", re.compile(r"stripe_eventbridge::(?!main\b)")),
    ("Lambda Runtime API client and response", "symbol", re.compile(r"lambda_runtime")),
]
WARM_FALLBACK = ("tokio scheduler, epoll and the rest of the kernel", re.compile(r"tokio::|epoll|\[kernel"))

# The start of the process, up to the first `GET /next`, then one invocation.
INIT = [
    ("root certificates: rustls-native-certs finds, reads and parses them", "path",
     re.compile(r"rustls_native_certs|rustls_pki_types::pem|openssl_probe")),
    ("TLS client configuration: a root store per HTTPS connector", "path",
     re.compile(r"RootCertStore|add_parsable_certificates|webpki|rustls::")),
    ("loading the binary: exec, dynamic linker, relocations", "symbol",
     re.compile(r"_dl_|dl_main|dl_relocate|load_elf_binary|bprm_execve|do_execveat")),
    ("GetSecretValue and the first invocation's PutEvents", "symbol",
     re.compile(r"aws_sdk_secretsmanager|aws_sdk_eventbridge::operation|aws_smithy_runtime::client::orchestrator")),
    ("AWS SDK: config loading and client builds", "symbol",
     re.compile(r"aws_config|aws_sdk_|aws_smithy|aws_types|aws_runtime")),
    ("logs and metrics", "path", re.compile(r"tracing_subscriber|stripe_eventbridge::(metrics|logging)")),
    ("receiver: configuration and the first invocation", "path", re.compile(r"stripe_eventbridge::(?!main\b)")),
    ("Lambda runtime", "symbol", re.compile(r"lambda_runtime")),
]
INIT_FALLBACK = ("tokio, process exit and the rest of the kernel", re.compile(r"tokio::|\[kernel"))

KERNEL = re.compile(r"\[kernel")


def function_path(frame: str) -> str:
    """Return the frame's symbol with the generic arguments of each name left out.

    `poll<hyper::...<lambda_runtime::...>>` becomes `poll`, so that a type
    named in a generic argument does not make the frame match its crate.
    A leading `<Type as Trait>::` stays, because it names the code that runs.
    """
    symbol = frame.split(" ", 1)[1] if " " in frame else frame
    path_chars = []
    depth = 0
    for index, char in enumerate(symbol):
        if char == "<" and (depth or (index and (symbol[index - 1].isalnum() or symbol[index - 1] in "_}"))):
            depth += 1
        elif char == ">" and depth:
            depth -= 1
        elif not depth:
            path_chars.append(char)
    return "".join(path_chars)


def stacks(lines):
    """Yield each sample's frames, innermost first, as (symbol, path) pairs."""
    frames: list[tuple[str, str]] = []
    for line in lines:
        if not line.strip():
            if frames:
                yield frames
            frames = []
        elif line.startswith((" ", "\t")):
            frame = line.strip()
            frames.append((frame, function_path(frame)))
    if frames:
        yield frames


def main() -> None:
    if sys.argv[1:] == ["--init"]:
        table, fallback = INIT, INIT_FALLBACK
    elif not sys.argv[1:]:
        table, fallback = WARM, WARM_FALLBACK
    else:
        sys.exit("usage: perf script ... | profile_shares.py [--init]")
    counts: Counter[str] = Counter()
    in_kernel = 0
    for frames in stacks(sys.stdin):
        component = next(
            (
                name
                for name, field, pattern in table
                if any(pattern.search(path if field == "path" else symbol) for symbol, path in frames)
            ),
            None,
        )
        if component is None:
            fallback_name, fallback_pattern = fallback
            matched = any(fallback_pattern.search(symbol) for symbol, _ in frames)
            component = fallback_name if matched else "other"
        counts[component] += 1
        in_kernel += bool(KERNEL.search(frames[0][0]))
    total = sum(counts.values())
    if not total:
        sys.exit("profile_shares: no samples on standard input")
    print(f"{total} samples")
    for name, count in counts.most_common():
        print(f"{100 * count / total:5.1f} %  {name}")
    print(f"{100 * in_kernel / total:5.1f} %  of all samples were taken in the kernel")


if __name__ == "__main__":
    main()
