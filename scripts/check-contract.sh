#!/usr/bin/env bash
# Usage: scripts/check-contract.sh
# Validates docs/asyncapi.yaml against the official AsyncAPI 2.6.0 JSON Schema (a saved copy,
# docs/schemas/asyncapi-2.6.0.json) and every message example against its payload and headers schemas.
# Python's jsonschema and PyYAML come in a venv cached under .data/tools-venv.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv=${SCHOOLICT_DATA_DIR:-$root/.data}/tools-venv
if [[ ! -f $venv/.installed ]]; then
  python=/usr/bin/python3
  "$python" -c 'import venv, ensurepip' 2>/dev/null || python=python3
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'jsonschema>=4.18,<5' 'PyYAML>=6,<7'
  touch "$venv/.installed"
fi
"$venv/bin/python" - <<'PY'
import json, sys, yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

document = yaml.safe_load(open("docs/asyncapi.yaml"))
meta = json.load(open("docs/schemas/asyncapi-2.6.0.json"))
problems = []
# The document against the official schema (its definitions are embedded resources with their own $id).
registry = Registry().with_resource(meta["$id"], Resource.from_contents(meta, default_specification=DRAFT7))
for key, definition in meta.get("definitions", {}).items():
    registry = registry.with_resource(key, Resource.from_contents(definition, default_specification=DRAFT7))
for error in Draft7Validator(meta, registry=registry).iter_errors(document):
    problems.append("asyncapi.yaml: " + "/".join(map(str, error.absolute_path)) + ": " + error.message[:300])

# Every example against its message's schemas, resolved within the document.
root = "urn:schoolict:asyncapi"
doc_registry = Registry().with_resource(root, Resource.from_contents(document, default_specification=DRAFT7))
def check(pointer, instance, where):
    # The schema by its JSON pointer inside the document, so its own "#/components/..." references resolve there.
    for error in Draft7Validator({"$ref": root + pointer}, registry=doc_registry).iter_errors(instance):
        problems.append(f"{where}: " + "/".join(map(str, error.absolute_path)) + ": " + error.message[:300])
messages = document.get("components", {}).get("messages", {})
count = 0
for name, message in messages.items():
    for example in message.get("examples", []):
        count += 1
        where = f"example {name}/{example.get('name', '?')}"
        if "payload" in example and "payload" in message:
            check(f"#/components/messages/{name}/payload", example["payload"], where + " payload")
        if "headers" in example and "headers" in message:
            check(f"#/components/messages/{name}/headers", example["headers"], where + " headers")
for problem in problems:
    print("check-contract: " + problem, file=sys.stderr)
if problems:
    sys.exit(1)
print(f"check-contract: docs/asyncapi.yaml is valid AsyncAPI 2.6.0; {count} examples match their schemas")
PY
