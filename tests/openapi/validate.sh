#!/usr/bin/env bash
# `batchconf openapi` must be valid OpenAPI 3.1 as OpenAPI tools read it: openapi-spec-validator
# (which also checks that every `pattern` is a regular expression ECMA-262 and Python agree on)
# validates the JSON and the YAML form. A document known to be invalid (the `\p{Han}` pattern
# the contract once had) must fail, so this step is seen to be able to fail. Installs the
# validator into a venv under target/ once.
#
# Usage: bash tests/openapi/validate.sh
# Env:   CARGO_TARGET_DIR (default: target), PYTHON (default: python3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tool="openapi" package=openapi-spec-validator version=0.9.0 venv_name=openapi-venv
# shellcheck source=../support/venv.sh
source "$here/../support/venv.sh"

(cd "$root" && cargo build --quiet --bin batchconf)
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
"$target/debug/batchconf" openapi --format json >"$dir/openapi.json"
"$target/debug/batchconf" openapi --format yaml >"$dir/openapi.yaml"
"$venv/bin/openapi-spec-validator" "$dir/openapi.json" "$dir/openapi.yaml"

# The control: the same document with a pattern ECMA-262 refuses.
"$venv/bin/python" - "$dir/openapi.json" "$dir/broken.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
for path in doc["paths"].values():
    for op in path.values():
        for p in op.get("parameters", []):
            if "pattern" in p["schema"]:
                p["schema"]["pattern"] = r"^[^\p{Han}]*$"
json.dump(doc, open(sys.argv[2], "w"), ensure_ascii=False)
PY
if "$venv/bin/openapi-spec-validator" "$dir/broken.json" >/dev/null 2>&1; then
    echo "openapi: the validator accepted a pattern that is not ECMA-262: it proves nothing" >&2
    exit 1
fi
echo "openapi: the JSON and YAML documents are valid OpenAPI 3.1"
