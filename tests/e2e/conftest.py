"""Session fixtures: moto, the bus with its rules and queues, and the receiver
running under `cargo lambda watch`. All of them start once per test run and
stop at its end, also when a test fails or pytest is interrupted."""

from __future__ import annotations

import os
import secrets
import signal

import pytest

import harness

# Python ends on SIGTERM without running finalizers; as KeyboardInterrupt the
# fixtures below still stop the processes they started.
signal.signal(signal.SIGTERM, signal.default_int_handler)


@pytest.fixture(scope="session")
def moto_url():
    url = os.environ.get("STRIPE_EVENTBRIDGE_MOTO_URL")
    if url:
        yield url.rstrip("/")
        return
    process, url = harness.start_moto()
    try:
        yield url
    finally:
        process.stop()


@pytest.fixture(scope="session")
def run_id() -> str:
    return secrets.token_hex(4)


@pytest.fixture(scope="session")
def stack(moto_url, run_id) -> harness.Stack:
    return harness.create_stack(moto_url, run_id)


@pytest.fixture(scope="session")
def payment_queue(stack) -> harness.QueueReader:
    """Events on the bus that match the payment_intent.succeeded rule."""
    return harness.QueueReader(stack.sqs, stack.payment_queue_url)


@pytest.fixture(scope="session")
def all_queue(stack) -> harness.QueueReader:
    """Every Stripe event on the bus."""
    return harness.QueueReader(stack.sqs, stack.all_queue_url)


@pytest.fixture(scope="session")
def secret() -> str:
    """A new signing secret per run, so that finding it in a log means a leak."""
    return "whsec_e2e" + secrets.token_hex(24)


@pytest.fixture(scope="session")
def receiver(moto_url, stack, secret):
    harness.build_binaries()
    receiver = harness.Receiver(moto_url, secret)
    try:
        receiver.wait_ready()
        yield receiver
    finally:
        receiver.stop()

    # Checked over the whole run, after every request of every test.
    harness.assert_log_reveals_nothing(receiver, secret)
