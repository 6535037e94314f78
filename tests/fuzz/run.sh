#!/usr/bin/env bash
# An OpenAPI-driven fuzzer against the reference server: Schemathesis sends valid and invalid
# requests (every mode, every check) generated from tests/fuzz/openapi.json, the contract of
# schemas/ written as OpenAPI, to `batchconf serve`; it must find no 5xx and no answer that breaks
# the contract. Installs Schemathesis into a venv under target/ once.
#
# Usage: bash tests/fuzz/run.sh [SERVE-ARGS…]   e.g. `--fault error-body-without-code` must fail.
# Env:   CARGO_TARGET_DIR (default: target), PYTHON (default: python3), FUZZ_EXAMPLES (default 100)
#
# `ignored_auth` is left out on purpose: it expects 401 or 403 for missing credentials, and this
# contract answers 400 (`{"error_code":"MSS.00000001","error_msg":"Unauthorized"}`).
set -euo pipefail

ST_VERSION=4.32.5
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-target}"
[[ "$target" = /* ]] || target="$root/$target"
venv="$target/fuzz-venv"
python="${PYTHON:-python3}"

if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '$ST_VERSION')" 2>/dev/null; then
    echo "fuzz: installing schemathesis==$ST_VERSION into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi

token="bcf-fuzz-token-$RANDOM$RANDOM"
tool="fuzz"
# shellcheck source=../support/serve.sh
source "$root/tests/support/serve.sh" --token "$token" --fixtures fuzz-asset-1,fuzz-asset-2 "$@"

if ! "$venv/bin/st" run "$here/openapi.json" --url "$url" -H "X-Auth-Token: $token" \
    --mode all --checks all --exclude-checks ignored_auth \
    -n "${FUZZ_EXAMPLES:-100}" --seed 20261128 --no-color; then
    server_log
    exit 1
fi
