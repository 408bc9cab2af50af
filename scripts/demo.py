#!/usr/bin/env python3
"""Run the receiver locally against moto and show where each sample event goes.

The demo starts moto server and `cargo lambda watch` on 127.0.0.1, creates the
event bus and the example rules and targets of template.yaml in moto, and sends
every sample in events/ to the emulated Function URL with a fresh
Stripe-Signature. For each sample it prints the HTTP status, the Stripe event
id, the EventBridge event id and the rule targets that received the event.

It exits 1 when a sample got a status other than 200, did not reach exactly
the targets whose rule patterns match it, or arrived changed. With --serve it keeps
running after the samples so that `stripe listen --forward-to` can send real
sandbox events. Every process it starts is stopped when it exits, Ctrl-C
included.

Run it through scripts/demo, which installs the packages it imports.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import boto3
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = REPO_ROOT / "events"
ENV_FILE = EVENTS_DIR / "env.json"
TEMPLATE_FILE = REPO_ROOT / "template.yaml"
SAMCONFIG_FILE = REPO_ROOT / "samconfig.toml"
WORK_DIR = REPO_ROOT / ".work" / "demo"
FUNCTION_ENV_FILE = WORK_DIR / "function.env"
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
SIGN_TOOL = TARGET_DIR / "debug" / "stripe-eventbridge-sign"
SIGN_TOOL_SOURCE = REPO_ROOT / "src" / "bin" / "stripe-eventbridge-sign.rs"

# Logical id of the function in template.yaml and its key in events/env.json.
FUNCTION_RESOURCE = "WebhookFunction"
BINARY = "stripe-eventbridge"
FUNCTION_URL_PATH = f"/lambda-url/{BINARY}/"
REGION = "us-east-1"
# moto's default account id, which appears in the ARNs it returns.
ACCOUNT_ID = "123456789012"

# Dummy credentials, no instance metadata and no profile: neither boto3 here
# nor the AWS SDK in the function may look for real credentials.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "NO_PROXY": "127.0.0.1,localhost",
}
UNSET_AWS_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")

# Headers of a sample that describe the original connection, not the request
# body. urllib sets Host and Content-Length itself, and the signature is new.
DROPPED_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "stripe-signature"}

# Every request goes straight to 127.0.0.1, never through a proxy from the environment.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Timeouts, in seconds.
MOTO_START_TIMEOUT = 30
# cargo lambda watch starts the function with `cargo run`, which compiles again
# when a source file changed after the demo's own build.
FUNCTION_START_TIMEOUT = 600
# moto delivers to targets inside PutEvents, so deliveries are normally
# readable before the HTTP response arrives. This only bounds the wait.
DELIVERY_TIMEOUT = 10


class DemoError(Exception):
    """A step of the demo failed. The message names the step and what to check."""


class TemplateError(DemoError):
    """template.yaml uses something that the demo cannot reproduce in moto."""


class Stopped(Exception):
    """SIGTERM or SIGHUP arrived. Raised so that the cleanup code runs."""


def raise_stopped(signum: int, _frame) -> None:
    raise Stopped(signal.Signals(signum).name)


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------


class Process:
    """A child process in a process group of its own, writing to a log file.

    Every instance is listed in `Process.started` as soon as it exists, so
    that the cleanup stops it even when its start-up check fails.
    """

    started: list[Process] = []

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.log_path = log_path
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
        Process.started.append(self)

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def check_running(self) -> None:
        status = self.popen.poll()
        if status is not None:
            raise DemoError(
                f"{self.name} exited with status {status}; last lines of {self.log_path}:\n{self.log_tail()}"
            )

    def stop(self, timeout: float = 10) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL after `timeout` seconds.

        `cargo lambda watch` runs the function as a grandchild, which belongs to
        the same group.
        """
        group = self.popen.pid
        try:
            os.killpg(group, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()
        self._log.close()


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    """Return the environment for child processes, with the venv's tools on PATH."""
    env = {key: value for key, value in os.environ.items() if key not in UNSET_AWS_ENV}
    env.update(AWS_ENV)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def http_request(url: str, body: bytes | None, headers: dict[str, str], timeout: float):
    """Send a request and return the status and the decoded JSON or text response."""
    method = "GET" if body is None else "POST"
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with HTTP.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", errors="replace")


def start_moto(port: int) -> Process:
    url = f"http://127.0.0.1:{port}"
    moto = Process(
        "moto_server",
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        child_env(),
        WORK_DIR / "moto.log",
    )
    moto.url = url
    deadline = time.monotonic() + MOTO_START_TIMEOUT
    while time.monotonic() < deadline:
        moto.check_running()
        try:
            status, _ = http_request(f"{url}/moto-api/", None, {}, timeout=2)
            if status == 200:
                return moto
        except OSError:
            pass
        time.sleep(0.2)
    raise DemoError(f"moto did not respond on {url} within {MOTO_START_TIMEOUT} s; see {moto.log_path}")


def build_binaries() -> Path | None:
    """Build the function and, when its source exists, the signing tool.

    Returns the signing tool's path, or None when the demo signs in Python.
    """
    print(f"==> cargo build --bin {BINARY}", flush=True)
    if subprocess.run(["cargo", "build", "--bin", BINARY], cwd=REPO_ROOT).returncode != 0:
        raise DemoError(f"cargo build --bin {BINARY} failed; see the compiler output above")
    if not SIGN_TOOL_SOURCE.exists():
        print("Signing in Python: src/bin/stripe-eventbridge-sign.rs does not exist")
        return None
    print("==> cargo build --bin stripe-eventbridge-sign", flush=True)
    if subprocess.run(["cargo", "build", "--bin", "stripe-eventbridge-sign"], cwd=REPO_ROOT).returncode != 0:
        print("Signing in Python: the signing tool did not build (see the output above)")
        return None
    return SIGN_TOOL


def start_function(port: int, function_env: dict[str, str]) -> Process:
    """Start `cargo lambda watch` with the function's environment and wait
    until the function responds on its Function URL."""
    # The file contains the signing secrets, so only the owner may read it,
    # and main() deletes it on exit.
    descriptor = os.open(FUNCTION_ENV_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        for name, value in function_env.items():
            file.write(f"{name}={value}\n")

    # --ignore-changes: files edited while the demo runs do not restart the function.
    watch = Process(
        "cargo lambda watch",
        [
            "cargo", "lambda", "watch",
            "-A", "127.0.0.1", "-P", str(port),
            "--ignore-changes", "--bin", BINARY, "--env-file", str(FUNCTION_ENV_FILE),
        ],
        child_env(),
        WORK_DIR / "lambda.log",
    )
    wait_for_function(watch, f"http://127.0.0.1:{port}{FUNCTION_URL_PATH}")
    return watch


def wait_for_function(watch: Process, url: str) -> None:
    """Send GET requests until the function responds with 405, which only
    the receiver itself returns for GET."""
    deadline = time.monotonic() + FUNCTION_START_TIMEOUT
    while time.monotonic() < deadline:
        watch.check_running()
        # cargo lambda watch keeps running when the function exits, and keeps
        # requests for it waiting, so a function that fails at init shows only here.
        if re.search(r"ERROR.*command exited", watch.log_text()):
            raise DemoError(f"the function exited; last lines of {watch.log_path}:\n{watch.log_tail()}")
        try:
            status, _ = http_request(url, None, {}, timeout=5)
            if status == 405:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise DemoError(f"the function did not respond on {url} within {FUNCTION_START_TIMEOUT} s; see {watch.log_path}")


# ---------------------------------------------------------------------------
# template.yaml
# ---------------------------------------------------------------------------


class CloudFormationLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation short forms such as !Ref and
    !GetAtt as their long forms {"Ref": ...} and {"Fn::GetAtt": [...]}."""


def construct_intrinsic(loader: CloudFormationLoader, tag_suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


CloudFormationLoader.add_multi_constructor("!", construct_intrinsic)


def load_template() -> dict:
    with open(TEMPLATE_FILE, encoding="utf-8") as file:
        return yaml.load(file, Loader=CloudFormationLoader)


class Resolver:
    """Resolves Ref, Fn::GetAtt and Fn::Sub against the parameter defaults,
    the pseudo parameters and the resources that the demo created in moto."""

    def __init__(self, template: dict, stack_name: str):
        self.parameters = {
            name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()
        }
        self.pseudo_parameters = {
            "AWS::StackName": stack_name,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        # Logical id -> value of !Ref and of !GetAtt <id>.Arn, for created resources.
        self.refs: dict[str, str] = {}
        self.arns: dict[str, str] = {}

    def resolve(self, value):
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::GetAtt":
                return self.arn(*argument)
            if key == "Fn::Sub":
                return self.sub(argument)
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported by the demo")
        return {key: self.resolve(item) for key, item in value.items()}

    def ref(self, name: str):
        if name in self.pseudo_parameters:
            return self.pseudo_parameters[name]
        if name in self.parameters:
            if self.parameters[name] is None:
                raise TemplateError(f"!Ref {name}: the parameter has no Default")
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"!Ref {name}: not a parameter or a resource that the demo creates")

    def arn(self, name: str, attribute: str) -> str:
        if attribute == "Arn" and name in self.arns:
            return self.arns[name]
        raise TemplateError(f"!GetAtt {name}.{attribute}: not the ARN of a resource that the demo creates")

    def sub(self, argument) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.resolve(argument[1])
        else:
            text, variables = argument, {}

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return self.arn(*name.split(".", 1))
            return str(self.ref(name))

        # ${!Name} is a literal ${Name} in Fn::Sub.
        text = re.sub(r"\$\{(?!!)([^}]+)\}", replace, text)
        return text.replace("${!", "${")


def arn_references(value) -> list[str]:
    """Return the names that !GetAtt <id>.Arn or a ${Name} of !Sub refers to
    anywhere in `value`; the caller keeps those that are resources."""
    if isinstance(value, list):
        return [name for item in value for name in arn_references(item)]
    if isinstance(value, dict):
        if set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][1] == "Arn":
            return [value["Fn::GetAtt"][0]]
        if set(value) == {"Fn::Sub"}:
            text = value["Fn::Sub"][0] if isinstance(value["Fn::Sub"], list) else value["Fn::Sub"]
            return re.findall(r"\$\{(?!!)(?!AWS::)([A-Za-z0-9]+)(?:\.Arn)?\}", text)
        return [name for item in value.values() for name in arn_references(item)]
    return []


def read_stack_name() -> str:
    with open(SAMCONFIG_FILE, "rb") as file:
        config = tomllib.load(file)
    return config.get("default", {}).get("deploy", {}).get("parameters", {}).get("stack_name", "stripe-eventbridge")


# ---------------------------------------------------------------------------
# The bus, rules and targets in moto
# ---------------------------------------------------------------------------


@dataclass
class Target:
    """A rule target that the demo reads deliveries from."""

    rule: str
    resource: str
    kind: str  # "SQS queue" or "log group"
    address: str  # queue URL or log group name

    @property
    def label(self) -> str:
        return f"{self.rule} -> {self.resource}"


@dataclass
class Rule:
    name: str
    pattern: dict
    targets: list[Target]


@dataclass
class Aws:
    events: object
    sqs: object
    logs: object

    @classmethod
    def connect(cls, endpoint: str) -> Aws:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        return cls(*(session.client(name, endpoint_url=endpoint) for name in ("events", "sqs", "logs")))


class Stack:
    """Creates the bus and the AWS::Events::Rule resources of template.yaml
    in moto, with the queues and log groups that their targets name."""

    def __init__(self, template: dict, aws: Aws, bus_name: str, stack_name: str):
        self.resources: dict = template.get("Resources", {})
        self.aws = aws
        self.bus_name = bus_name
        self.stack_name = stack_name
        self.resolver = Resolver(template, stack_name)
        self.kinds: dict[str, str] = {}

    def create(self) -> list[Rule]:
        self.create_bus()
        rules = []
        for name, resource in self.resources.items():
            if resource.get("Type") == "AWS::Events::Rule":
                rules.append(self.create_rule(name, resource.get("Properties", {})))
        if not rules:
            raise TemplateError("template.yaml has no AWS::Events::Rule resource")
        return rules

    def create_bus(self) -> None:
        buses = [name for name, r in self.resources.items() if r.get("Type") == "AWS::Events::EventBus"]
        if len(buses) != 1:
            raise TemplateError(f"expected one AWS::Events::EventBus resource, found {len(buses)}")
        (bus,) = buses
        template_name = self.resolver.resolve(self.resources[bus].get("Properties", {}).get("Name"))
        if template_name != self.bus_name:
            print(
                f"Note: template.yaml names the bus {template_name!r} but events/env.json sets "
                f"EVENT_BUS_NAME={self.bus_name!r}; the demo uses {self.bus_name!r}."
            )
        self.aws.events.create_event_bus(Name=self.bus_name)
        self.resolver.refs[bus] = self.bus_name
        self.resolver.arns[bus] = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/{self.bus_name}"

    def create_rule(self, name: str, properties: dict) -> Rule:
        template_targets = properties.get("Targets", [])
        for resource in arn_references(template_targets):
            if resource in self.resources:
                self.create_target_resource(resource)

        pattern = self.resolver.resolve(properties["EventPattern"])
        bus = self.resolver.resolve(properties.get("EventBusName", self.bus_name))
        self.aws.events.put_rule(
            Name=name,
            EventBusName=bus,
            EventPattern=json.dumps(pattern),
            State=properties.get("State", "ENABLED"),
            Description=self.resolver.resolve(properties.get("Description", "")),
        )
        self.aws.events.put_targets(Rule=name, EventBusName=bus, Targets=self.resolver.resolve(template_targets))

        targets = []
        for target in template_targets:
            # Only the target's own Arn receives events; a DeadLetterConfig
            # queue is created but only gets events that fail delivery.
            (resource,) = [name for name in arn_references(target["Arn"]) if name in self.resources]
            targets.append(Target(name, resource, self.kinds[resource], self.resolver.refs[resource]))
        return Rule(name, pattern, targets)

    def create_target_resource(self, name: str) -> None:
        if name in self.resolver.arns:
            return
        resource = self.resources.get(name)
        if resource is None:
            raise TemplateError(f"a rule target names {name}, which is not a resource of template.yaml")
        kind = resource.get("Type")
        properties = resource.get("Properties", {})

        if kind == "AWS::SQS::Queue":
            if properties.get("FifoQueue"):
                raise TemplateError(f"{name} is a FIFO queue, which the demo does not create")
            queue_name = self.resolver.resolve(properties.get("QueueName", f"{self.stack_name}-{name}"))
            url = self.aws.sqs.create_queue(QueueName=queue_name)["QueueUrl"]
            attributes = self.aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            self.resolver.refs[name] = url
            self.resolver.arns[name] = attributes["Attributes"]["QueueArn"]
            self.kinds[name] = "SQS queue"
        elif kind == "AWS::Logs::LogGroup":
            group = self.resolver.resolve(properties.get("LogGroupName", f"/aws/events/{self.stack_name}/{name}"))
            self.aws.logs.create_log_group(logGroupName=group)
            self.resolver.refs[name] = group
            # CloudFormation's Arn attribute of a log group ends in ":*", which
            # moto would read as part of the group name, so the demo leaves it off.
            self.resolver.arns[name] = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{group}"
            self.kinds[name] = "log group"
        else:
            raise TemplateError(
                f"{name} is a {kind}; the demo creates only SQS queues and CloudWatch Logs log groups as targets"
            )


# ---------------------------------------------------------------------------
# Rule patterns
# ---------------------------------------------------------------------------

MISSING = object()


def pattern_matches(pattern: dict, event) -> bool:
    """Return whether an EventBridge event pattern matches `event`.

    Supports exact values, nested objects, $or and the operators prefix,
    suffix, equals-ignore-case, anything-but, numeric and exists. Raises
    TemplateError for any other operator, rather than guess.

    NOTE: unlike EventBridge, this does not look inside objects that are
    array elements; no example rule of template.yaml needs it.
    """
    for key, condition in pattern.items():
        if key == "$or":
            if not any(pattern_matches(branch, event) for branch in condition):
                return False
            continue
        value = event.get(key, MISSING) if isinstance(event, dict) else MISSING
        if isinstance(condition, dict):
            if not isinstance(value, dict) or not pattern_matches(condition, value):
                return False
        elif isinstance(condition, list):
            if not any(matcher_matches(matcher, value) for matcher in condition):
                return False
        else:
            raise TemplateError(f"pattern field {key!r} is neither a list nor an object")
    return True


def matcher_matches(matcher, value) -> bool:
    """Return whether one item of a pattern list matches a field value.

    An array value matches when any of its elements does, as in EventBridge.
    """
    if isinstance(matcher, dict) and set(matcher) == {"exists"}:
        return (value is not MISSING) == matcher["exists"]
    if value is MISSING:
        return False
    values = value if isinstance(value, list) else [value]
    if not isinstance(matcher, dict):
        return any(same_value(matcher, item) for item in values)

    ((operator, argument),) = matcher.items()
    if operator == "prefix":
        return any(isinstance(item, str) and item.startswith(argument) for item in values)
    if operator == "suffix":
        return any(isinstance(item, str) and item.endswith(argument) for item in values)
    if operator == "equals-ignore-case":
        return any(isinstance(item, str) and item.lower() == argument.lower() for item in values)
    if operator == "numeric":
        return any(numeric_matches(argument, item) for item in values)
    if operator == "anything-but":
        if isinstance(argument, dict):
            return not any(matcher_matches(argument, item) for item in values)
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(same_value(ex, item) for ex in excluded for item in values)
    raise TemplateError(f"the demo cannot evaluate the pattern operator {operator!r}")


def same_value(expected, actual) -> bool:
    """Compare JSON values without Python's True == 1."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return expected == actual
    return type(expected) is type(actual) and expected == actual


NUMERIC_OPERATORS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


def numeric_matches(conditions: list, value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    pairs = zip(conditions[::2], conditions[1::2])
    return all(NUMERIC_OPERATORS[operator](value, bound) for operator, bound in pairs)


# ---------------------------------------------------------------------------
# Samples and signing
# ---------------------------------------------------------------------------


@dataclass
class Sample:
    """One file of events/: the body to send, its headers and the parsed event."""

    path: Path
    body: bytes
    headers: dict[str, str]
    event: dict

    @property
    def name(self) -> str:
        return self.path.name


def load_samples() -> list[Sample]:
    """Read every sample in events/ except env.json.

    A sample that is an API Gateway event (HTTP API or REST shape) is sent as
    the HTTP request it describes: its body, base64-decoded when
    isBase64Encoded is true, and its headers. Any other file is sent as a bare Stripe event body.
    """
    samples = []
    for path in sorted(EVENTS_DIR.glob("*.json")):
        if path == ENV_FILE:
            continue
        data = json.loads(path.read_bytes())
        if isinstance(data, dict) and "body" in data and ("requestContext" in data or "httpMethod" in data):
            text = data["body"] or ""
            body = base64.b64decode(text) if data.get("isBase64Encoded") else text.encode("utf-8")
            headers = dict(data.get("headers") or {})
            for name, values in (data.get("multiValueHeaders") or {}).items():
                headers.setdefault(name, ",".join(values))
        else:
            body = path.read_bytes()
            headers = {"content-type": "application/json; charset=utf-8"}
        headers = {name: value for name, value in headers.items() if name.lower() not in DROPPED_HEADERS}
        samples.append(Sample(path, body, headers, json.loads(body)))
    if not samples:
        raise DemoError(f"no sample events found in {EVENTS_DIR}")
    return samples


def split_secrets(text: str) -> list[str]:
    """Split a secret list as the receiver does: on commas and newlines."""
    return [item.strip() for item in re.split(r"[,\n]", text) if item.strip()]


class Signer:
    """Computes a fresh Stripe-Signature for a sample, with the signing tool
    when it was built and in Python otherwise."""

    def __init__(self, secrets: list[str], tool: Path | None):
        self.secrets = secrets
        self.tool = tool

    def describe(self) -> str:
        if self.tool:
            # CARGO_TARGET_DIR may put the tool outside the repository.
            tool = self.tool.relative_to(REPO_ROOT) if self.tool.is_relative_to(REPO_ROOT) else self.tool
            return f"{tool} --format header"
        return "Python (HMAC-SHA256 over t.body, keyed with the whole whsec_ secret)"

    def header(self, sample: Sample, timestamp: int) -> str:
        if self.tool is None:
            return self.header_in_python(sample.body, timestamp)
        # The tool reads the secret from the environment, so it never appears
        # on a command line that other users can list.
        result = subprocess.run(
            [str(self.tool), "--format", "header", "--timestamp", str(timestamp), str(sample.path)],
            env={**os.environ, "STRIPE_WEBHOOK_SECRET": ",".join(self.secrets)},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise DemoError(f"{self.tool.name} failed on {sample.name}: {result.stderr.strip()}")
        return result.stdout.strip()

    def header_in_python(self, body: bytes, timestamp: int) -> str:
        signed_payload = f"{timestamp}.".encode() + body
        signatures = [
            hmac.new(secret.encode(), signed_payload, hashlib.sha256).hexdigest() for secret in self.secrets
        ]
        return ",".join([f"t={timestamp}"] + [f"v1={signature}" for signature in signatures])


# ---------------------------------------------------------------------------
# Deliveries
# ---------------------------------------------------------------------------


@dataclass
class Delivery:
    target: Target
    event: dict


class DeliveryReader:
    """Reads the events that rule targets received: receives and deletes SQS
    messages, and reads log events not seen before.

    NOTE: a queue or log group that is the target of two rules is read once
    per target, so its events are counted under whichever target reads first.
    The example rules of template.yaml each have their own target.
    """

    def __init__(self, aws: Aws, targets: list[Target]):
        self.aws = aws
        self.targets = targets
        self.seen_log_events: set[str] = set()

    def read(self) -> list[Delivery]:
        deliveries = []
        for target in self.targets:
            if target.kind == "SQS queue":
                deliveries += self.read_queue(target)
            else:
                deliveries += self.read_log_group(target)
        return deliveries

    def read_queue(self, target: Target) -> list[Delivery]:
        deliveries = []
        while True:
            response = self.aws.sqs.receive_message(QueueUrl=target.address, MaxNumberOfMessages=10)
            messages = response.get("Messages", [])
            if not messages:
                return deliveries
            for message in messages:
                deliveries.append(Delivery(target, json.loads(message["Body"])))
                self.aws.sqs.delete_message(QueueUrl=target.address, ReceiptHandle=message["ReceiptHandle"])

    def read_log_group(self, target: Target) -> list[Delivery]:
        deliveries = []
        arguments = {"logGroupName": target.address}
        while True:
            response = self.aws.logs.filter_log_events(**arguments)
            for log_event in response.get("events", []):
                key = f"{log_event['logStreamName']}/{log_event['eventId']}"
                if key not in self.seen_log_events:
                    self.seen_log_events.add(key)
                    deliveries.append(Delivery(target, json.loads(log_event["message"])))
            if not response.get("nextToken"):
                return deliveries
            arguments["nextToken"] = response["nextToken"]


# ---------------------------------------------------------------------------
# Sending and checking
# ---------------------------------------------------------------------------


@dataclass
class Result:
    sample: Sample
    status: int
    response: object
    expected: Counter
    filtered_by: list[str]
    received: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def eventbridge_id(self) -> str | None:
        if isinstance(self.response, dict):
            return self.response.get("eventbridge_event_id")
        return None


def eventbridge_event(sample: Sample, source: str) -> dict:
    """Build the event that EventBridge matches rules against, without id and time."""
    return {
        "version": "0",
        "detail-type": sample.event.get("type"),
        "source": source,
        "account": ACCOUNT_ID,
        "region": REGION,
        "resources": [],
        "detail": sample.event,
    }


def expected_time(stripe_event: dict) -> str | None:
    """Return the event's `created` as EventBridge's `time`, to the second."""
    created = stripe_event.get("created")
    if isinstance(created, int) and not isinstance(created, bool):
        moment = datetime.fromtimestamp(created, timezone.utc)
    elif isinstance(created, str):
        moment = datetime.fromisoformat(created)
    else:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def send_samples(samples: list[Sample], url: str, signer: Signer, rules: list[Rule], source: str) -> list[Result]:
    results = []
    for sample in samples:
        matched = eventbridge_event(sample, source)
        expected = Counter()
        filtered_by = []
        for rule in rules:
            if pattern_matches(rule.pattern, matched):
                expected.update(target.label for target in rule.targets)
            elif "detail" in rule.pattern:
                # The rule selects this source and type, but its content filter does not match.
                without_detail = {key: value for key, value in rule.pattern.items() if key != "detail"}
                if pattern_matches(without_detail, matched):
                    filtered_by.append(rule.name)

        headers = {**sample.headers, "Stripe-Signature": signer.header(sample, int(time.time()))}
        status, response = http_request(url, sample.body, headers, timeout=60)
        results.append(Result(sample, status, response, expected, filtered_by))
    return results


def check_deliveries(results: list[Result], reader: DeliveryReader, source: str) -> list[Delivery]:
    """Wait for every expected delivery, attach deliveries to their results and
    record every difference as a problem. Returns deliveries that belong to no sample."""
    by_eventbridge_id = {result.eventbridge_id: result for result in results if result.eventbridge_id}
    unknown = []
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while True:
        for delivery in reader.read():
            result = by_eventbridge_id.get(delivery.event.get("id"))
            if result is None:
                unknown.append(delivery)
                continue
            result.received[delivery.target.label] += 1
            result.problems += compare_delivery(result.sample, delivery, source)
        waiting = [r for r in results if r.eventbridge_id and any(r.received[k] < n for k, n in r.expected.items())]
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(0.5)

    for result in results:
        if result.status != 200:
            result.problems.append(f"HTTP {result.status}: {json.dumps(result.response)}")
        elif not result.eventbridge_id:
            result.problems.append(f"the response has no eventbridge_event_id: {json.dumps(result.response)}")
        if result.received != result.expected:
            result.problems.append(
                f"expected {format_routes(result.expected) or 'no target'}, "
                f"received by {format_routes(result.received) or 'no target'}"
            )
    return unknown


def compare_delivery(sample: Sample, delivery: Delivery, source: str) -> list[str]:
    event = delivery.event
    where = f"at {delivery.target.label}"
    problems = []
    if event.get("source") != source:
        problems.append(f"{where}: source is {event.get('source')!r}, expected {source!r}")
    if event.get("detail-type") != sample.event.get("type"):
        problems.append(f"{where}: detail-type is {event.get('detail-type')!r}, expected {sample.event.get('type')!r}")
    if event.get("detail") != sample.event:
        problems.append(f"{where}: detail differs from the body that was sent")
    time_text = expected_time(sample.event)
    if time_text and event.get("time") != time_text:
        problems.append(f"{where}: time is {event.get('time')!r}, expected created = {time_text!r}")
    return problems


def format_routes(routes: Counter) -> str:
    return ", ".join(label if count == 1 else f"{label} (x{count})" for label, count in sorted(routes.items()))


def print_results(results: list[Result]) -> None:
    rows = [("sample", "HTTP", "Stripe event id", "EventBridge event id", "routed to")]
    for result in results:
        if result.received:
            routed = format_routes(result.received)
        elif result.filtered_by:
            routed = f"no rule ({', '.join(result.filtered_by)}: detail does not match)"
        else:
            routed = "no rule"
        rows.append((
            result.sample.name,
            str(result.status),
            str(result.sample.event.get("id", "-")),
            result.eventbridge_id or "-",
            routed + ("" if not result.problems else "  <-- PROBLEM"),
        ))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])


def print_summary(results: list[Result], rules: list[Rule], unknown: list[Delivery]) -> bool:
    """Print the totals and every problem. Returns whether all samples passed."""
    answered = sum(1 for result in results if result.status == 200)
    passed = sum(1 for result in results if not result.problems)
    print(f"\n==> Summary: {len(results)} samples sent, {answered} answered 200, {passed} routed as expected")
    for rule in rules:
        for target in rule.targets:
            count = sum(result.received[target.label] for result in results)
            print(f"  {target.label} ({target.kind} {target.address}): {count} event(s)")
    unrouted = sum(1 for result in results if result.status == 200 and not result.expected and not result.received)
    print(f"  no rule matched: {unrouted} event(s)")

    problems = [(result.sample.name, problem) for result in results for problem in result.problems]
    for delivery in unknown:
        problems.append(("-", f"{delivery.target.label} received an event that no sample sent: id {delivery.event.get('id')}"))
    if problems:
        print("\nProblems:")
        for name, problem in problems:
            print(f"  {name}: {problem}")
    return not problems


# ---------------------------------------------------------------------------
# Serve mode
# ---------------------------------------------------------------------------


def serve(url: str, reader: DeliveryReader, watch: Process, demo_secret: str, extra_secrets: list[str]) -> None:
    """Keep running, print each request the function handles and each
    delivery to a rule target, until Ctrl-C."""
    print(f"\n==> Serving. Function URL: {url}")
    print(f"  Signing secret of the samples (events/env.json): {demo_secret}")
    if extra_secrets:
        prefixes = ", ".join(secret[:10] + "..." for secret in extra_secrets)
        print(f"  Also accepted: the --secret value(s) {prefixes}")
        print(f"  Forward sandbox events with:\n    stripe listen --forward-to {url}")
    else:
        print("  `stripe listen` signs with its own secret. To forward sandbox events, restart with it:")
        print('    ./scripts/demo --serve --secret "$(stripe listen --print-secret)"')
        print(f"    stripe listen --forward-to {url}")
    print("  Or send a sample again, freshly signed:")
    print(
        f"    STRIPE_WEBHOOK_SECRET={demo_secret} target/debug/stripe-eventbridge-sign "
        f"--format curl --url {url} events/charge.succeeded.json | sh"
    )
    print("Press Ctrl-C to stop.\n", flush=True)

    log_offset = len(watch.log_text())
    while True:
        time.sleep(1)
        watch.check_running()
        text = watch.log_text()
        for line in text[log_offset:].splitlines():
            outcome = parse_outcome_line(line)
            if outcome:
                print(outcome, flush=True)
        log_offset = len(text)
        for delivery in reader.read():
            detail = delivery.event.get("detail", {})
            print(
                f"  -> {delivery.target.label}: {delivery.event.get('detail-type')} {detail.get('id')} "
                f"(EventBridge id {delivery.event.get('id')})",
                flush=True,
            )


def parse_outcome_line(line: str) -> str | None:
    """Summarise the function's "webhook handled" log line, or return None."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    fields = record.get("fields", record) if isinstance(record, dict) else {}
    if not isinstance(fields, dict) or fields.get("message") != "webhook handled":
        return None
    parts = [f"HTTP {fields.get('status')}", str(fields.get("outcome"))]
    if fields.get("reason"):
        parts.append(str(fields["reason"]))
    parts += [str(fields.get("event_type") or "-"), str(fields.get("event_id") or "-")]
    return "  " + " ".join(parts)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Run the receiver under cargo lambda watch against moto, create the example rules of "
            "template.yaml, send every sample in events/ and report where each one arrived."
        ),
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="keep running after the samples, for stripe listen --forward-to, until Ctrl-C",
    )
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="WHSEC",
        help="another signing secret that the receiver accepts, such as the output of "
        "`stripe listen --print-secret`; may be repeated",
    )
    parser.add_argument("--port", type=int, default=0, help="port of the Function URL on 127.0.0.1 (default: a free port)")
    parser.add_argument("--moto-port", type=int, default=0, help="port of moto on 127.0.0.1 (default: a free port)")
    return parser.parse_args()


def read_function_env() -> dict[str, str]:
    variables = json.loads(ENV_FILE.read_text(encoding="utf-8")).get(FUNCTION_RESOURCE)
    if not isinstance(variables, dict):
        raise DemoError(f"{ENV_FILE} has no {FUNCTION_RESOURCE} object")
    return {name: str(value) for name, value in variables.items()}


def main() -> int:
    args = parse_args()
    for secret in args.secret:
        if not secret.startswith("whsec_"):
            print("demo: --secret must be a signing secret starting with whsec_", file=sys.stderr)
            return 2
    for name in UNSET_AWS_ENV:
        os.environ.pop(name, None)
    os.environ.update(AWS_ENV)
    # Python leaves SIGINT ignored when the demo starts as a background job;
    # Ctrl-C and kill -INT must still stop it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, raise_stopped)
    signal.signal(signal.SIGHUP, raise_stopped)
    WORK_DIR.mkdir(parents=True, exist_ok=True)

    function_env = read_function_env()
    demo_secrets = split_secrets(function_env.get("STRIPE_WEBHOOK_SECRET", ""))
    if not demo_secrets:
        raise DemoError(f"{ENV_FILE} sets no STRIPE_WEBHOOK_SECRET to sign the samples with")
    bus_name = function_env.get("EVENT_BUS_NAME", "")
    source = function_env.get("EVENT_SOURCE", "stripe.com")
    template = load_template()
    samples = load_samples()
    signer = Signer(demo_secrets, build_binaries())

    try:
        moto = start_moto(args.moto_port or free_port())
        print(f"==> moto answers on {moto.url}")

        aws = Aws.connect(moto.url)
        rules = Stack(template, aws, bus_name, read_stack_name()).create()
        print(f"==> Created bus {bus_name!r} and the rules of template.yaml:")
        for rule in rules:
            targets = ", ".join(f"{t.resource} ({t.kind} {t.address})" for t in rule.targets)
            print(f"  {rule.name}: {json.dumps(rule.pattern)}\n    -> {targets}")

        function_env.update(
            AWS_ENV,
            AWS_ENDPOINT_URL=moto.url,
            STRIPE_WEBHOOK_SECRET=",".join(demo_secrets + args.secret),
            AWS_LAMBDA_LOG_FORMAT="JSON",
        )
        port = args.port or free_port()
        print(f"==> Starting cargo lambda watch on 127.0.0.1:{port} (log: {WORK_DIR.relative_to(REPO_ROOT)}/lambda.log)", flush=True)
        watch = start_function(port, function_env)
        url = f"http://127.0.0.1:{port}{FUNCTION_URL_PATH}"

        print(f"==> Sending {len(samples)} samples to {url}, signed with {signer.describe()}\n", flush=True)
        results = send_samples(samples, url, signer, rules, source)
        reader = DeliveryReader(aws, [target for rule in rules for target in rule.targets])
        unknown = check_deliveries(results, reader, source)
        print_results(results)
        passed = print_summary(results, rules, unknown)
        print(f"\nLogs: {WORK_DIR.relative_to(REPO_ROOT)}/lambda.log (function), {WORK_DIR.relative_to(REPO_ROOT)}/moto.log")

        if args.serve:
            try:
                serve(url, reader, watch, demo_secrets[0], args.secret)
            except (KeyboardInterrupt, Stopped):
                # The normal end of --serve: the exit status still reports the samples.
                print()
        return 0 if passed else 1
    except KeyboardInterrupt:
        print("\nInterrupted.")
        return 130
    except Stopped as stop:
        print(f"\nStopped by {stop}.")
        return 143
    finally:
        # A second Ctrl-C must not cut the cleanup short and leave processes behind.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        stopped = list(reversed(Process.started))
        for process in stopped:
            process.stop()
        if stopped:
            print(f"Stopped {' and '.join(process.name for process in stopped)}.")
        FUNCTION_ENV_FILE.unlink(missing_ok=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DemoError as error:
        print(f"demo: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
