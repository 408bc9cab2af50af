"""Shared machinery of the end-to-end tests.

The tests run the real receiver binary under `cargo lambda watch`, which
emulates the Lambda runtime and serves the function's URL, and point it at
moto, the local AWS emulator. Every process listens on 127.0.0.1 only, and
every AWS client and the receiver use dummy credentials and an explicit moto
endpoint, so no request leaves the machine.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS_DIR = REPO_ROOT / "events"
LOG_DIR = REPO_ROOT / ".work" / "e2e"
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
SIGN_TOOL = TARGET_DIR / "debug" / "stripe-eventbridge-sign"

FUNCTION_NAME = "stripe-eventbridge"
FUNCTION_URL_PATH = f"/lambda-url/{FUNCTION_NAME}/"
BUS_NAME = "stripe"
REGION = "us-east-1"

# Dummy credentials and no instance metadata: the SDKs must never look for
# real credentials or talk to AWS.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}

# scripts/test kills the process groups listed in this file if the tests do
# not stop them themselves (for example when pytest is killed).
PID_FILE_VARIABLE = "STRIPE_EVENTBRIDGE_E2E_PIDFILE"


def tool_env(**extra: str) -> dict[str, str]:
    """Return the environment for child processes: the AWS settings above,
    no inherited AWS profile or endpoint, and the venv's tools on PATH."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")
    }
    env.update(AWS_ENV)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float, description: str, interval: float = 0.2):
    """Call `check` until it returns a true value and return that value.

    Raises TimeoutError naming `description` and the last exception when `timeout`
    seconds pass first.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as error:  # noqa: BLE001 - reported in the timeout message
            last_error = error
        time.sleep(interval)
    raise TimeoutError(f"{description} timed out after {timeout:.0f} s (last error: {last_error!r})")


class Process:
    """A child process in its own process group, logging to a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "wb")
        self.popen = subprocess.Popen(
            args,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        record_process_group(self.popen.pid)

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def check_running(self) -> None:
        code = self.popen.poll()
        if code is not None:
            raise RuntimeError(
                f"{self.name} exited with status {code}; see {self.log_path}:\n{self.log_text()[-3000:]}"
            )

    def stop(self, timeout: float = 10) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL after `timeout` seconds.

        `cargo lambda watch` starts the function in a process group of its
        own and stops it on SIGTERM. Descendants found before the stop are
        killed afterwards in case they outlive it.
        """
        group = self.popen.pid
        children = descendants(group)
        try:
            os.killpg(group, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        # Children that outlive the leader still belong to the group.
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._log.close()


def descendants(pid: int) -> list[int]:
    """Return the ids of all processes below `pid`, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in parentheses may contain spaces; the parent id is
        # the second field after it.
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found.extend(children)
        frontier.extend(children)
    return found


def record_process_group(pgid: int) -> None:
    pid_file = os.environ.get(PID_FILE_VARIABLE)
    if pid_file:
        with open(pid_file, "a", encoding="ascii") as file:
            file.write(f"{pgid}\n")


def http_get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def start_moto() -> tuple[Process, str]:
    """Start moto on a free port and return the process and its address."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = Process(
        "moto_server",
        ["moto_server", "-H", "127.0.0.1", "-p", str(port)],
        tool_env(),
        LOG_DIR / "moto.log",
    )

    def responds():
        process.check_running()
        return http_get_status(url + "/moto-api/") == 200

    try:
        wait_until(responds, 30, f"waiting for moto on {url}")
    except BaseException:
        process.stop()
        raise
    return process, url


@dataclass
class Stack:
    """The bus, the two rules and the queues they deliver to."""

    moto_url: str
    payment_queue_url: str
    all_queue_url: str
    sqs: object = field(repr=False)

    # The payment rule keeps payment_intent.succeeded events over 1000 in the
    # smallest currency unit; the catch-all rule keeps every Stripe event.
    PAYMENT_PATTERN = {
        "source": ["stripe.com"],
        "detail-type": ["payment_intent.succeeded"],
        "detail": {"data": {"object": {"amount": [{"numeric": [">", 1000]}]}}},
    }
    ALL_PATTERN = {"source": ["stripe.com"]}


def client(service: str, moto_url: str):
    return boto3.client(
        service,
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def create_stack(moto_url: str, run_id: str) -> Stack:
    """Create the bus `stripe` (or reuse it) and per-run rules and queues."""
    events = client("events", moto_url)
    sqs = client("sqs", moto_url)
    try:
        events.create_event_bus(Name=BUS_NAME)
    except events.exceptions.ResourceAlreadyExistsException:
        pass

    def queue_with_rule(name: str, pattern: dict) -> str:
        queue_url = sqs.create_queue(QueueName=f"{name}-{run_id}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        rule = f"{name}-{run_id}"
        events.put_rule(Name=rule, EventBusName=BUS_NAME, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=rule, EventBusName=BUS_NAME, Targets=[{"Id": "queue", "Arn": queue_arn}])
        return queue_url

    return Stack(
        moto_url=moto_url,
        payment_queue_url=queue_with_rule("large-payments", Stack.PAYMENT_PATTERN),
        all_queue_url=queue_with_rule("all-stripe", Stack.ALL_PATTERN),
        sqs=sqs,
    )


class QueueReader:
    """Reads an SQS queue and indexes the EventBridge events by Stripe event id,
    so that each test finds its own events whatever else is in the queue."""

    def __init__(self, sqs, queue_url: str):
        self.sqs = sqs
        self.queue_url = queue_url
        self.by_event_id: dict[str, list[dict]] = {}

    def _drain_once(self, wait_seconds: int) -> None:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        )
        for message in response.get("Messages", []):
            envelope = json.loads(message["Body"])
            event_id = envelope.get("detail", {}).get("id")
            self.by_event_id.setdefault(event_id, []).append(envelope)
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def wait_for(self, event_id: str, timeout: float = 10) -> dict:
        """Return the first EventBridge event whose detail has `event_id`."""
        deadline = time.monotonic() + timeout
        while event_id not in self.by_event_id:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no message for Stripe event {event_id} in {self.queue_url} within {timeout:.0f} s; "
                    f"ids seen: {sorted(self.by_event_id)}"
                )
            self._drain_once(wait_seconds=1)
        return self.by_event_id[event_id][0]

    def received(self, event_id: str, wait: float = 2) -> bool:
        """Drain the queue for `wait` seconds and return whether `event_id` arrived."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and event_id not in self.by_event_id:
            self._drain_once(wait_seconds=1)
        return event_id in self.by_event_id


def build_binaries() -> None:
    subprocess.run(["cargo", "build", "--bins", "--quiet"], cwd=REPO_ROOT, env=tool_env(), check=True)


class Receiver:
    """The receiver running under `cargo lambda watch`."""

    def __init__(
        self,
        endpoint_url: str,
        secret: str,
        *,
        extra_env: dict[str, str] | None = None,
        unset_env: tuple[str, ...] = (),
        log_name: str = "watch.log",
    ):
        """Start the receiver with its AWS endpoint at `endpoint_url` (moto, or a
        proxy in front of it), `extra_env` added and `unset_env` removed."""
        self.secret = secret
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.function_url = self.base_url + FUNCTION_URL_PATH
        # AWS_LAMBDA_LOG_LEVEL sets the function's log level and takes
        # precedence over RUST_LOG there. RUST_LOG is dropped because cargo
        # lambda also reads it for its own, much noisier, log.
        env = tool_env(
            STRIPE_WEBHOOK_SECRET=secret,
            EVENT_BUS_NAME=BUS_NAME,
            AWS_ENDPOINT_URL=endpoint_url,
            AWS_LAMBDA_LOG_LEVEL="INFO",
            **(extra_env or {}),
        )
        env.pop("RUST_LOG", None)
        for name in unset_env:
            env.pop(name, None)
        # -A 127.0.0.1: watch binds every interface by default. --bin picks the
        # receiver among the package's two binaries. --ignore-changes keeps
        # edits made while the tests run from restarting the function.
        self.process = Process(
            "cargo lambda watch",
            [
                "cargo", "lambda", "watch",
                "-A", "127.0.0.1",
                "-P", str(self.port),
                "--bin", FUNCTION_NAME,
                "--ignore-changes",
            ],
            env,
            LOG_DIR / log_name,
        )

    def wait_ready(self, timeout: float = 180) -> None:
        """Wait until the function responds. Watch starts it on the first request."""

        def responds():
            self.process.check_running()
            return http_request("GET", self.function_url).status == 405

        wait_until(responds, timeout, f"waiting for the receiver on {self.function_url}", interval=1)

    def log_text(self) -> str:
        return self.process.log_text()

    def stop(self) -> None:
        self.process.stop()


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def http_request(method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> HttpResult:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return HttpResult(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return HttpResult(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


# Every v1 signature the tests made or sent, so that the logs can be checked
# for them at the end.
SENT_SIGNATURES: set[str] = set()

# Log text that only a Stripe event body contains. The receiver must never log
# a body, so none of it may appear in the watch output.
BODY_MARKERS = ('"api_version":', '"data":{"object":', '"pending_webhooks":')


def assert_log_reveals_nothing(receiver: Receiver, secret: str) -> None:
    """Check the receiver's whole log for the secret, any sent signature and body text."""
    log = receiver.log_text()
    path = receiver.process.log_path
    assert secret not in log, f"the signing secret appears in {path}"
    leaked = sorted(hex for hex in SENT_SIGNATURES if hex in log)
    assert not leaked, f"signatures {leaked} appear in {path}"
    for marker in BODY_MARKERS:
        assert marker not in log, f"body text {marker!r} appears in {path}"


def post_webhook(receiver: Receiver, body: bytes, signature: str) -> HttpResult:
    SENT_SIGNATURES.update(signature_hexes(signature))
    return http_request(
        "POST",
        receiver.function_url,
        body,
        {"Content-Type": "application/json", "Stripe-Signature": signature},
    )


@dataclass
class InvokeResult:
    returncode: int
    stdout: str
    stderr: str

    def response(self) -> dict:
        """The API Gateway response that the function returned."""
        return json.loads(self.stdout)


def invoke(receiver: Receiver, event_file: Path) -> InvokeResult:
    """Send a raw Lambda event with `cargo lambda invoke` to the watch server."""
    # The long forms are used on purpose: in cargo-lambda 1.9.2 `invoke -A` is
    # listed both for --invoke-address and for --data-ascii.
    completed = subprocess.run(
        [
            "cargo", "lambda", "invoke",
            "--invoke-address", "127.0.0.1",
            "--invoke-port", str(receiver.port),
            "--data-file", str(event_file),
            FUNCTION_NAME,
        ],
        cwd=REPO_ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return InvokeResult(completed.returncode, completed.stdout, completed.stderr)


def sign(path: Path, secret: str, *options: str) -> bytes:
    """Run the signing tool on `path` with the secret in STRIPE_WEBHOOK_SECRET
    and return its standard output."""
    completed = subprocess.run(
        [str(SIGN_TOOL), *options, str(path)],
        env=tool_env(STRIPE_WEBHOOK_SECRET=secret),
        capture_output=True,
        timeout=30,
    )
    if completed.returncode != 0:
        raise AssertionError(
            f"signing tool failed on {path} with options {options}: status {completed.returncode}, "
            f"stderr {completed.stderr.decode(errors='replace')}"
        )
    SENT_SIGNATURES.update(signature_hexes(completed.stdout.decode("utf-8", errors="replace")))
    return completed.stdout


def load_event(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def event_body(event: dict) -> str:
    """Return the Stripe event body of an API Gateway event, base64-decoded if needed."""
    if event.get("isBase64Encoded"):
        return base64.b64decode(event["body"]).decode("utf-8")
    return event["body"]


def set_event_body(event: dict, body: str) -> dict:
    """Return a copy of the event carrying `body`, encoded as the original was."""
    updated = dict(event)
    if event.get("isBase64Encoded"):
        updated["body"] = base64.b64encode(body.encode("utf-8")).decode("ascii")
    else:
        updated["body"] = body
    return updated


_counter = 0


def with_new_id(body: str, label: str) -> tuple[str, str]:
    """Give a Stripe event body a new unique id, editing only the id's text.

    Several tests send the same sample; a unique id per send lets each one
    find its own message in the shared queues.
    """
    global _counter
    _counter += 1
    old_id = json.loads(body)["id"]
    new_id = f"evt_e2e{label}{_counter}x{os.getpid()}x{int(time.time())}"
    old_text = json.dumps(old_id)
    assert body.count(old_text) >= 1, f"id {old_id} not found in body"
    return body.replace(old_text, json.dumps(new_id), 1), new_id


def replace_once(text: str, old: str, new: str) -> str:
    assert old in text, f"{old!r} not found in {text[:200]!r}..."
    return text.replace(old, new, 1)


def signature_hexes(header: str) -> list[str]:
    return re.findall(r"v1=([0-9a-f]{64})", header)
