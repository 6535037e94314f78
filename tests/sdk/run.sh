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

SDK_VERSION=3.1.219
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-target}"
# cargo reads a relative CARGO_TARGET_DIR from the directory it runs in, which is $root.
[[ "$target" = /* ]] || target="$root/$target"
venv="$target/sdk-venv"
python="${PYTHON:-python3}"

# The venv is reused when it already has this SDK version: no network on later runs.
if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('huaweicloudsdkmetastudio') != '$SDK_VERSION')" 2>/dev/null; then
    echo "sdk interop: installing huaweicloudsdkmetastudio==$SDK_VERSION into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "huaweicloudsdkmetastudio==$SDK_VERSION"
fi

export BATCHCONF_AK="bcf-interop-ak"
export BATCHCONF_SK="bcf-interop-sk-$RANDOM$RANDOM"
export BATCHCONF_FIXTURE="interop-asset-1"

tool="sdk interop"
# shellcheck source=../support/serve.sh
source "$root/tests/support/serve.sh" --ak "$BATCHCONF_AK" --sk "$BATCHCONF_SK" --fixtures "$BATCHCONF_FIXTURE" "$@"

export BATCHCONF_URL="$url"
if ! "$venv/bin/python" "$here/interop.py"; then
    server_log
    exit 1
fi
