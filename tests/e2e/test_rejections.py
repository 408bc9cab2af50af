"""Requests the receiver must reject, and what it may reveal while doing so."""

from __future__ import annotations

import time

import harness

SAMPLE = harness.EVENTS_DIR / "payment_intent.succeeded.json"
# Values from the sample's data.object that must never reach a log.
PRIVATE_VALUES = ("kenji.sato@example.com", "pi_30wvkY0NA3JieXZVxarxDYus_secret_tgMOoAeIwchsS14KNcTSzZn91")


def sample(label: str) -> tuple[bytes, str]:
    body, event_id = harness.with_new_id(harness.event_body(harness.load_event(SAMPLE)), label)
    return body.encode("utf-8"), event_id


def sign_body(tmp_path, body: bytes, secret: str, *options: str) -> str:
    body_file = tmp_path / "body.json"
    body_file.write_bytes(body)
    return harness.sign(body_file, secret, "--format", "header", *options).decode("ascii").strip()


def assert_reveals_nothing(result: harness.HttpResult, body: bytes, header: str, secret: str):
    text = result.body.decode("utf-8", errors="replace")
    assert secret not in text, f"response contains the secret: {text}"
    for hex_value in harness.signature_hexes(header):
        assert hex_value not in text, f"response contains signature {hex_value}: {text}"
    assert body.decode("utf-8") not in text, f"response contains the body: {text[:200]}"
    for value in PRIVATE_VALUES:
        assert value not in text, f"response contains {value!r}: {text}"


def test_wrong_secret_is_rejected(receiver, secret, all_queue, tmp_path):
    body, event_id = sample("wrongsecret")
    header = sign_body(tmp_path, body, "whsec_not_the_receivers_secret")

    result = harness.post_webhook(receiver, body, header)

    assert result.status == 400, f"wrong secret: {result.status} {result.body!r}"
    assert result.json()["error"] == "no_matching_signature", f"wrong secret: {result.body!r}"
    assert_reveals_nothing(result, body, header, secret)
    assert not all_queue.received(event_id, wait=1), f"rejected event {event_id} reached the bus"


def test_stale_timestamp_is_rejected(receiver, secret, all_queue, tmp_path):
    body, event_id = sample("stale")
    stale = int(time.time()) - 400
    header = sign_body(tmp_path, body, secret, "--timestamp", str(stale))

    result = harness.post_webhook(receiver, body, header)

    assert result.status == 400, f"t={stale}: {result.status} {result.body!r}"
    assert result.json()["error"] == "timestamp_outside_tolerance", f"t={stale}: {result.body!r}"
    assert_reveals_nothing(result, body, header, secret)
    assert not all_queue.received(event_id, wait=1), f"stale event {event_id} reached the bus"


def test_get_is_not_allowed(receiver):
    result = harness.http_request("GET", receiver.function_url)

    assert result.status == 405, f"GET: {result.status} {result.body!r}"
    assert result.headers.get("allow") == "POST", f"GET headers: {result.headers}"
    assert result.json()["error"] == "method_not_allowed", f"GET: {result.body!r}"


def test_logs_reveal_nothing(receiver, secret, tmp_path):
    body, _ = sample("logcheck")
    accepted = sign_body(tmp_path, body, secret)
    rejected = sign_body(tmp_path, body, "whsec_another_secret_for_the_log_check")
    assert harness.post_webhook(receiver, body, accepted).status == 200
    assert harness.post_webhook(receiver, body, rejected).status == 400

    log = receiver.log_text()
    assert secret not in log, f"the secret appears in {receiver.process.log_path}"
    for header in (accepted, rejected):
        for hex_value in harness.signature_hexes(header):
            assert hex_value not in log, f"signature {hex_value} appears in {receiver.process.log_path}"
    assert body.decode("utf-8") not in log, f"the body appears in {receiver.process.log_path}"
    for value in PRIVATE_VALUES:
        assert value not in log, f"{value!r} appears in {receiver.process.log_path}"
