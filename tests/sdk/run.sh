#!/usr/bin/env bash
# Interop test: the official Huawei Cloud Python SDK (huaweicloudsdkmetastudio) calls
# `batchconf serve` with AK/SK signing. Installs the SDK into a venv under target/ once (later runs
# reuse it), builds batchconf, starts the server on a free port, runs interop.py, stops the server.
#
# Usage: bash tests/sdk/run.sh [SERVE-ARGS…]   (from anywhere; exits non-zero on any failure)
#        Extra arguments go to `batchconf serve`: `bash tests/sdk/run.sh --fault accept-bad-signature`
#        must fail, which shows the test can.
# Env:   CARGO_TARGET_DIR (default: target), PYTHON (default: python3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tool="sdk interop" package=huaweicloudsdkmetastudio version=3.1.219 venv_name=sdk-venv
# shellcheck source=../support/venv.sh
source "$here/../support/venv.sh"

export BATCHCONF_AK="bcf-interop-ak"
export BATCHCONF_SK="bcf-interop-sk-$RANDOM$RANDOM"
export BATCHCONF_FIXTURE="interop-asset-1"

# shellcheck source=../support/serve.sh
source "$root/tests/support/serve.sh" --ak "$BATCHCONF_AK" --sk "$BATCHCONF_SK" --fixtures "$BATCHCONF_FIXTURE" "$@"

export BATCHCONF_URL="$url"
if ! "$venv/bin/python" "$here/interop.py"; then
    server_log
    exit 1
fi
