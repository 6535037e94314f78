#!/usr/bin/env bash
# Writes the OpenAPI document the fuzzer runs from, to stdout: `batchconf openapi` as it is (the
# contract of schemas/, derived, never a hand-kept copy, and never edited for the fuzzer). Its
# only security requirement is the token: AK/SK signing is declared but required nowhere, since
# a tool cannot sign (see src/openapi.rs).
#
# Usage: bash tests/fuzz/spec.sh BATCHCONF-BINARY [PYTHON] >spec.json
set -euo pipefail
"$1" openapi
