"""Signatures agree with Stripe's official Python library (`stripe` on PyPI)."""

from __future__ import annotations

import json

import pytest
import stripe

import harness

SAMPLE = harness.EVENTS_DIR / "payment_intent.succeeded.json"


def stripe_signature_header(payload: str, secret: str) -> str:
    """Sign with stripe-python's own helper, which its docstring offers for
    signing payloads in tests (present in stripe 16.1, the pinned minimum)."""
    return stripe.WebhookSignature.generate_signature_header(payload, secret)


def test_stripe_python_header_is_accepted(receiver, secret, payment_queue):
    body, event_id = harness.with_new_id(harness.event_body(harness.load_event(SAMPLE)), "stripepy")
    header = stripe_signature_header(body, secret)

    result = harness.post_webhook(receiver, body.encode("utf-8"), header)

    assert result.status == 200, f"stripe-python header {header[:20]}...: {result.status} {result.body!r}"
    assert payment_queue.wait_for(event_id)["detail"] == json.loads(body)


def test_tool_header_verifies_in_stripe_python(secret, tmp_path):
    body, event_id = harness.with_new_id(harness.event_body(harness.load_event(SAMPLE)), "tool")
    body_file = tmp_path / "body.json"
    body_file.write_bytes(body.encode("utf-8"))
    header = harness.sign(body_file, secret, "--format", "header").decode("ascii").strip()

    event = stripe.Webhook.construct_event(body, header, secret)

    assert event.id == event_id, f"construct_event returned {event.id}"
    assert event.type == "payment_intent.succeeded", f"construct_event returned type {event.type}"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.replace("15800", "15801", 1), header, secret)


def test_tool_secret_roll_verifies_in_stripe_python(secret, tmp_path):
    body, _ = harness.with_new_id(harness.event_body(harness.load_event(SAMPLE)), "roll")
    body_file = tmp_path / "body.json"
    body_file.write_bytes(body.encode("utf-8"))
    new_secret = "whsec_rolled_e2e_secret"
    header = harness.sign(body_file, f"{secret},{new_secret}", "--format", "header").decode("ascii").strip()

    for each in (secret, new_secret):
        assert stripe.Webhook.construct_event(body, header, each).type == "payment_intent.succeeded"
