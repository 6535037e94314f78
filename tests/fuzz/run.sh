#!/usr/bin/env bash
# An OpenAPI-driven fuzzer against the reference server: Schemathesis sends valid and invalid
# requests (every mode, every check) generated from `batchconf openapi` (the contract of schemas/,
# derived, never a hand-kept copy) to `batchconf serve`; it must find no 5xx and no answer that
# breaks the contract. Installs Schemathesis into a venv under target/ once.
#
# Usage: bash tests/fuzz/run.sh [SERVE-ARGS…]   e.g. `--fault error-body-without-code` must fail.
# Env:   CARGO_TARGET_DIR (default: target), PYTHON (default: python3), FUZZ_EXAMPLES (default 100)
#
# `ignored_auth` expects 401 or 403 for missing credentials: the page's service answers 400
# (`{"error_code":"MSS.00000001","error_msg":"Unauthorized"}`), the platform's gateway 401
# (`APIGW.0301`). So it runs only with FUZZ_GATEWAY=1, which serves with `--variant gateway-auth`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tool="fuzz" package=schemathesis version=4.32.5 venv_name=fuzz-venv
# shellcheck source=../support/venv.sh
source "$here/../support/venv.sh"

token="bcf-fuzz-token-$RANDOM$RANDOM"
exclude=(--exclude-checks ignored_auth)
if [ "${FUZZ_GATEWAY:-0}" = 1 ]; then
  set -- --variant gateway-auth "$@"
  exclude=()
fi
# shellcheck source=../support/serve.sh
source "$root/tests/support/serve.sh" --token "$token" --fixtures fuzz-asset-1,fuzz-asset-2 "$@"

spec="$(mktemp --suffix=.json)"
trap 'rm -f "$spec"; stop_server' EXIT
# The token scheme only (the server is given no AK/SK either): spec.sh says why.
bash "$here/spec.sh" "$target/debug/batchconf" "$venv/bin/python" >"$spec"

if ! "$venv/bin/st" run "$spec" --url "$url" -H "X-Auth-Token: $token" \
    --mode all --checks all "${exclude[@]}" \
    -n "${FUZZ_EXAMPLES:-100}" --seed 20261128 --no-color; then
    server_log
    exit 1
fi
