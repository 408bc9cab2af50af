"""Raw API Gateway events sent with `cargo lambda invoke --data-file`."""

from __future__ import annotations

import json

import harness

REST_SAMPLE = harness.EVENTS_DIR / "rest-charge.succeeded.json"
HTTP_SAMPLE = harness.EVENTS_DIR / "payment_intent.succeeded.json"


def resign(tmp_path, event: dict, secret: str, name: str):
    """Write the event and sign it with the tool, keeping its shape."""
    unsigned = tmp_path / f"{name}.unsigned.json"
    unsigned.write_text(json.dumps(event), encoding="utf-8")
    signed = tmp_path / f"{name}.json"
    signed.write_bytes(harness.sign(unsigned, secret))
    return signed


def assert_delivered(result: harness.InvokeResult, event_id: str) -> dict:
    assert result.returncode == 0, f"invoke of {event_id} failed: {result.stderr}"
    response = result.response()
    assert response["statusCode"] == 200, f"invoke of {event_id}: {response}"
    answer = json.loads(response["body"])
    assert answer["id"] == event_id, f"invoke of {event_id}: {answer}"
    return answer


def test_rest_v1_event_reaches_queue(receiver, secret, payment_queue, tmp_path):
    event = harness.load_event(REST_SAMPLE)
    assert "httpMethod" in event, f"{REST_SAMPLE} is not a REST v1 event"
    body, event_id = harness.with_new_id(harness.event_body(event), "rest")
    # The sample is a charge.succeeded of 1500; as a payment_intent.succeeded
    # it matches the payment rule.
    body = harness.replace_once(body, '"type":"charge.succeeded"', '"type":"payment_intent.succeeded"')
    signed = resign(tmp_path, harness.set_event_body(event, body), secret, "rest")

    answer = assert_delivered(harness.invoke(receiver, signed), event_id)

    message = payment_queue.wait_for(event_id)
    assert message["id"] == answer["eventbridge_event_id"], f"message {message['id']}, response {answer}"
    assert message["detail-type"] == "payment_intent.succeeded", f"message for {event_id}: {message}"
    assert message["detail"] == json.loads(body), f"detail of {event_id} differs from the body sent"


def test_http_v2_event_reaches_queue(receiver, secret, payment_queue, tmp_path):
    event = harness.load_event(HTTP_SAMPLE)
    assert event.get("version") == "2.0", f"{HTTP_SAMPLE} is not an HTTP API v2 event"
    body, event_id = harness.with_new_id(harness.event_body(event), "v2")
    signed = resign(tmp_path, harness.set_event_body(event, body), secret, "v2")

    answer = assert_delivered(harness.invoke(receiver, signed), event_id)

    message = payment_queue.wait_for(event_id)
    assert message["id"] == answer["eventbridge_event_id"], f"message {message['id']}, response {answer}"
    assert message["detail"] == json.loads(body), f"detail of {event_id} differs from the body sent"


def test_invalid_base64_is_400_and_not_forwarded(receiver, secret, all_queue, tmp_path):
    event = harness.load_event(HTTP_SAMPLE)
    broken = dict(event, isBase64Encoded=True, body="this is not base64!")
    broken_file = tmp_path / "broken.json"
    broken_file.write_text(json.dumps(broken), encoding="utf-8")

    failed = harness.invoke(receiver, broken_file)

    assert failed.returncode == 0, f"invoke failed: {failed.stderr}"
    response = failed.response()
    assert response["statusCode"] == 400, f"response: {response}"
    assert json.loads(response["body"])["error"] == "body_not_base64", f"response: {response}"

    body, event_id = harness.with_new_id(harness.event_body(event), "afterbase64")
    signed = resign(tmp_path, harness.set_event_body(event, body), secret, "after")
    assert_delivered(harness.invoke(receiver, signed), event_id)
    assert all_queue.wait_for(event_id)["detail"]["id"] == event_id
    assert "body_not_base64" in receiver.log_text(), "no outcome line names the reason"


def test_event_that_is_not_http_fails_invocation_only(receiver, secret, tmp_path):
    not_http = tmp_path / "not-http.json"
    not_http.write_text(json.dumps({"detail-type": "Scheduled Event", "detail": {}}), encoding="utf-8")
    starts_before = receiver.log_text().count("receiver ready")

    failed = harness.invoke(receiver, not_http)

    assert failed.returncode != 0, f"a non-HTTP event was answered: {failed.stdout}"
    assert "no HTTP method" in failed.stderr + receiver.log_text(), f"invoke stderr: {failed.stderr}"
    assert receiver.log_text().count("receiver ready") == starts_before, "the function process was restarted"
