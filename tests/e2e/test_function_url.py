"""Webhooks posted over HTTP to the Function URL that `cargo lambda watch` serves."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone

import harness

PAYMENT_SAMPLE = harness.EVENTS_DIR / "payment_intent.succeeded.json"
CHARGE_SAMPLE = harness.EVENTS_DIR / "charge.succeeded.json"


def sample_body(path, label: str) -> tuple[str, str]:
    return harness.with_new_id(harness.event_body(harness.load_event(path)), label)


def signed_header(tmp_path, body: str, secret: str) -> str:
    body_file = tmp_path / "body.json"
    body_file.write_bytes(body.encode("utf-8"))
    return harness.sign(body_file, secret, "--format", "header").decode("ascii").strip()


def test_payment_reaches_rule_queue(receiver, secret, payment_queue, tmp_path):
    body, event_id = sample_body(PAYMENT_SAMPLE, "http")
    header = signed_header(tmp_path, body, secret)

    result = harness.post_webhook(receiver, body.encode("utf-8"), header)

    assert result.status == 200, f"POST {event_id}: {result.status} {result.body!r}"
    answer = result.json()
    assert answer["id"] == event_id, f"response {answer}"
    assert answer["eventbridge_event_id"], f"response {answer}"

    message = payment_queue.wait_for(event_id)
    sent = json.loads(body)
    created = datetime.fromtimestamp(sent["created"], tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert message["id"] == answer["eventbridge_event_id"], f"message {message['id']}, response {answer}"
    assert message["detail-type"] == "payment_intent.succeeded", f"message for {event_id}: {message}"
    assert message["source"] == "stripe.com", f"message for {event_id}: {message}"
    assert message["time"] == created, f"created {sent['created']}, time {message['time']}"
    assert message["detail"] == sent, f"detail of {event_id} differs from the body sent"


def test_other_type_skips_rule_queue(receiver, secret, payment_queue, all_queue, tmp_path):
    body, event_id = sample_body(CHARGE_SAMPLE, "charge")
    header = signed_header(tmp_path, body, secret)

    result = harness.post_webhook(receiver, body.encode("utf-8"), header)

    assert result.status == 200, f"POST {event_id}: {result.status} {result.body!r}"
    assert all_queue.wait_for(event_id)["detail-type"] == "charge.succeeded"
    assert not payment_queue.received(event_id), f"charge.succeeded {event_id} matched the payment rule"


def test_small_payment_skips_rule_queue(receiver, secret, payment_queue, all_queue, tmp_path):
    body, event_id = sample_body(PAYMENT_SAMPLE, "small")
    body = harness.replace_once(body, '"amount":15800,', '"amount":900,')
    header = signed_header(tmp_path, body, secret)

    result = harness.post_webhook(receiver, body.encode("utf-8"), header)

    assert result.status == 200, f"POST {event_id}: {result.status} {result.body!r}"
    assert all_queue.wait_for(event_id)["detail"]["data"]["object"]["amount"] == 900
    assert not payment_queue.received(event_id), f"amount 900 ({event_id}) matched the rule for > 1000"


def run_curl_command(script: bytes) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-s"], input=script, capture_output=True, timeout=30)


def test_curl_command_is_accepted(receiver, secret, all_queue, tmp_path):
    body, event_id = sample_body(PAYMENT_SAMPLE, "curl")
    # Quotes, a backslash and a newline that a careless shell quoting would break.
    body = harness.replace_once(body, '"order_id":"JP-2291"', '"order_id":"it\'s \\"JP\\" \\\\ 2291"')
    body += "\n"
    body_file = tmp_path / "body.json"
    body_file.write_bytes(body.encode("utf-8"))

    script = harness.sign(body_file, secret, "--format", "curl", "--url", receiver.function_url)
    completed = run_curl_command(script)

    assert completed.returncode == 0, f"curl failed: {completed.stderr!r}"
    assert b" 200 " in completed.stdout.split(b"\r\n", 1)[0], f"curl output {completed.stdout!r}"
    assert all_queue.wait_for(event_id)["detail"] == json.loads(body)


def test_curl_body_file_is_accepted(receiver, secret, all_queue, tmp_path):
    body, event_id = sample_body(CHARGE_SAMPLE, "curlfile")
    body_file = tmp_path / "body.json"
    body_file.write_bytes(body.encode("utf-8"))
    script_file = tmp_path / "post.sh"

    harness.sign(body_file, secret, "--format", "curl", "--url", receiver.function_url, "-o", str(script_file))
    completed = run_curl_command(script_file.read_bytes())

    assert (tmp_path / "post.sh.body").read_bytes() == body.encode("utf-8")
    assert completed.returncode == 0, f"curl failed: {completed.stderr!r}"
    assert b" 200 " in completed.stdout.split(b"\r\n", 1)[0], f"curl output {completed.stdout!r}"
    assert all_queue.wait_for(event_id)["detail"]["id"] == event_id
