#!/usr/bin/env bash
# Writes the OpenAPI document the fuzzer runs from, to stdout: `batchconf openapi` (the contract of
# schemas/, derived, never a hand-kept copy) with the token scheme only. Schemathesis cannot sign
# requests: offered the AK/SK scheme, it sends made-up `Authorization` values, which the server
# rightly refuses.
#
# Usage: bash tests/fuzz/spec.sh BATCHCONF-BINARY PYTHON >spec.json
set -euo pipefail
"$1" openapi | "$2" -c '
import json, sys
doc = json.load(sys.stdin)
doc["security"] = [s for s in doc["security"] if list(s) == ["token"]]
del doc["components"]["securitySchemes"]["aksk"]
json.dump(doc, sys.stdout, indent=2)'
