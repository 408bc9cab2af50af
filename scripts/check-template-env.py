"""Check that the function's environment in template.yaml matches the code.

The variables the template sets must be exactly the ones src/config.rs
reads, and EVENT_BUS_NAME must come from the bus resource, never a literal
(a misspelled bus name makes PutEvents succeed silently elsewhere).
"""

import re
import sys
from pathlib import Path

from cfnlint.decode import cfn_yaml

# Variables the template may declare only as "" (which the code reads as
# unset), so that `sam local invoke --env-vars` can override them. Deployments
# pass the secret by ARN only.
EMPTY_IN_TEMPLATE = {"STRIPE_WEBHOOK_SECRET"}


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    config_source = (root / "src" / "config.rs").read_text(encoding="utf-8")
    read_by_code = set(re.findall(r'get\("([A-Z0-9_]+)"\)', config_source))
    if not read_by_code:
        print("check-template-env: found no get(\"...\") calls in src/config.rs", file=sys.stderr)
        return 1

    template = cfn_yaml.load(str(root / "template.yaml"))
    function = template["Resources"]["WebhookFunction"]["Properties"]
    variables = function["Environment"]["Variables"]
    set_by_template = set(variables)

    problems = []
    for name in sorted(read_by_code - set_by_template):
        problems.append(f"{name} is read by src/config.rs but not set by template.yaml")
    for name in sorted(set_by_template - read_by_code):
        problems.append(f"{name} is set by template.yaml but never read by src/config.rs")
    for name in sorted(set_by_template & EMPTY_IN_TEMPLATE):
        if variables[name] != "":
            problems.append(f'{name} must be "" in the template; pass the secret by ARN')

    bus = variables.get("EVENT_BUS_NAME")
    if not (isinstance(bus, dict) and bus.get("Ref") == "EventBus"):
        problems.append(f"EVENT_BUS_NAME must be !Ref EventBus, found {bus!r}")
    buses = [
        name
        for name, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Events::EventBus"
    ]
    if buses != ["EventBus"]:
        problems.append(f"expected one AWS::Events::EventBus named EventBus, found {buses}")

    for problem in problems:
        print(f"check-template-env: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"environment matches the code: {', '.join(sorted(set_by_template))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
