"""Every sample event in events/, signed again and sent through the receiver."""

from __future__ import annotations

import json

import pytest

import harness

SAMPLES = sorted(path for path in harness.EVENTS_DIR.glob("*.json") if path.name != "env.json")


def test_samples_exist():
    assert len(SAMPLES) >= 20, f"expected the sample events in {harness.EVENTS_DIR}, found {SAMPLES}"


@pytest.mark.parametrize("sample", SAMPLES, ids=[path.stem for path in SAMPLES])
def test_sample_reaches_bus(sample, receiver, secret, all_queue, tmp_path):
    event = harness.load_event(sample)
    body, event_id = harness.with_new_id(harness.event_body(event), "sample")
    event_type = json.loads(body)["type"]
    unsigned = tmp_path / "unsigned.json"
    unsigned.write_text(json.dumps(harness.set_event_body(event, body)), encoding="utf-8")
    signed = tmp_path / "signed.json"
    signed.write_bytes(harness.sign(unsigned, secret))

    result = harness.invoke(receiver, signed)

    assert result.returncode == 0, f"{sample.name}: invoke failed: {result.stderr}"
    response = result.response()
    assert response["statusCode"] == 200, f"{sample.name}: {response}"
    message = all_queue.wait_for(event_id)
    assert message["detail-type"] == event_type, f"{sample.name}: detail-type {message['detail-type']}"
    assert message["detail"]["id"] == event_id, f"{sample.name}: detail {message['detail']}"
