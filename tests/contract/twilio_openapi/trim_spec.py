"""Cut Twilio's official api_v2010 OpenAPI description down to the operations Ringround calls.

Run from the repository root with the path to twilio/twilio-oai's spec/json/twilio_api_v2010.json:

    .venv/bin/python tests/contract/twilio_openapi/trim_spec.py PATH/twilio_api_v2010.json

The tests only read the trimmed copy beside this script, never the full upstream file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# path -> the methods Ringround's TwilioDialer uses on it
OPERATIONS: dict[str, tuple[str, ...]] = {
    "/2010-04-01/Accounts/{Sid}.json": ("get",),
    "/2010-04-01/Accounts/{AccountSid}/Calls.json": ("get", "post"),
    "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json": ("get", "post"),
    "/2010-04-01/Accounts/{AccountSid}/Messages.json": ("post",),
    # Continuous calling: a contact dialled into the volunteer's conference.
    "/2010-04-01/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Participants.json": ("post",),
}
HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "trace"}


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value)
            else:
                found |= _refs(value)
    elif isinstance(node, list):
        for item in node:
            found |= _refs(item)
    return found


def trim(spec: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, methods in OPERATIONS.items():
        item = spec["paths"][path]
        paths[path] = {
            key: value for key, value in item.items()
            if key not in HTTP_METHODS or key in methods
        }
    components: dict[str, dict[str, Any]] = {}
    pending = _refs(paths)
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, section, name = ref.split("/", 3)  # "#/components/schemas/Name"
        value = spec["components"][section][name]
        components.setdefault(section, {})[name] = value
        pending |= _refs(value) - seen
    components["securitySchemes"] = spec["components"]["securitySchemes"]
    used_tags = {tag for item in paths.values() for op in item.values()
                 if isinstance(op, dict) for tag in op.get("tags", [])}
    return {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "servers": spec["servers"],
        "security": spec.get("security", []),
        "tags": [tag for tag in spec.get("tags", []) if tag["name"] in used_tags],
        "paths": paths,
        "components": {k: dict(sorted(v.items())) for k, v in sorted(components.items())},
    }


if __name__ == "__main__":
    source = Path(sys.argv[1])
    target = Path(__file__).with_name("twilio_api_v2010_trimmed.json")
    trimmed = trim(json.loads(source.read_text()))
    target.write_text(json.dumps(trimmed, indent=1, sort_keys=False) + "\n")
    print(f"wrote {target} ({target.stat().st_size} bytes)")
