#!/usr/bin/env bash
# The whole-run benchmark, one command: `bash bench/run.sh`.
#
# Builds batchconf (release), starts `batchconf serve --port 0` on 127.0.0.1, and on that one
# server measures, in turn:
#   1. wrk, one fixed valid token-authenticated batch request, 8 connections (the run's
#      concurrency): what the server can answer at all;
#   2. `batchconf run --target …`: checked exchanges per second (every request generated, sent,
#      and judged by every check; shrinking included), counted from its `requests sent: N` line;
#   3. Schemathesis, as CI runs it (tests/fuzz/run.sh), counted from the server's log;
# then prints the three rates and the two ratios. Last, on a fresh server, its resident memory
# after 10,000 and after 1,000,000 wrk requests.
#
# Installs what it needs: wrk (apt-get) and Schemathesis (a venv under target/, as CI does).
# Env: WRK_SECONDS (10), RUN_EXAMPLES (10000 per property case, about 50,000 requests), FUZZ_EXAMPLES (100),
#      MEMORY_REQUESTS (1000000; 0 skips the memory part), CARGO_TARGET_DIR, PYTHON.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
target="${CARGO_TARGET_DIR:-target}"
[[ "$target" = /* ]] || target="$root/$target"
wrk_seconds="${WRK_SECONDS:-10}"
run_examples="${RUN_EXAMPLES:-10000}"
fuzz_examples="${FUZZ_EXAMPLES:-100}"
memory_requests="${MEMORY_REQUESTS:-1000000}"
concurrency=8
project="bench-project"
token="bcf-bench-token-$RANDOM$RANDOM"
fixtures="bench-1,bench-2,bench-3,bench-4,bench-5,bench-6,bench-7,bench-8"

say() { echo "bench: $*" >&2; }

if ! command -v wrk >/dev/null; then
    say "installing wrk"
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
# The venv CI's fuzzer uses (venv.sh finds the repository from the fuzzer's folder).
tool="bench" package=schemathesis version=4.32.5 venv_name=fuzz-venv
here_saved="$here"
here="$root/tests/fuzz"
# shellcheck source=../tests/support/venv.sh
source "$root/tests/support/venv.sh"
here="$here_saved"
# shellcheck source=../tests/support/listening.sh
source "$root/tests/support/listening.sh"

say "building batchconf (release)"
(cd "$root" && cargo build --quiet --release --bin batchconf)
bin="$target/release/batchconf"
work="$(mktemp -d)"
children=()
cleanup() {
    for pid in "${children[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# Starts `batchconf serve` logging to $work/$1.log; sets $url and $pid.
start_server() {
    local name="$1" out="$work/$1.out"
    "$bin" serve --port 0 --token "$token" --fixtures "$fixtures" >"$out" 2>"$work/$name.log" &
    pid=$!
    children+=("$pid")
    url="$(listening_url "$out" "$pid")"
    if [[ -n "$url" ]]; then return; fi
    say "the server did not start; its log:"
    cat "$work/$name.log" >&2
    exit 1
}

# CPU seconds the server has used so far (user + system, from /proc).
ticks_per_second="$(getconf CLK_TCK)"
server_cpu() { awk -v hz="$ticks_per_second" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$pid/stat"; }
# Microseconds of server CPU per request: $1 seconds over $2 requests.
per_request() { awk -v s="$1" -v n="$2" 'BEGIN { printf "%.1f", 1e6 * s / n }'; }

# Requests the server has answered: one log line each (`METHOD PATH -> STATUS (N ms)`).
served() { grep -c -- ' -> [0-9]' "$work/$1.log" || true; }

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

# The one fixed request wrk sends: valid, token-authenticated, on a fixture (SHARE is idempotent).
cat >"$work/request.lua" <<EOF
wrk.method = "POST"
wrk.path = "/v1/$project/digital-assets/batch-action"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Auth-Token"] = "$token"
wrk.body = '{"action":"SHARE","asset_ids":["bench-1"]}'
EOF
# The same, each of wrk's two threads stopping after its half of `LIMIT` answers (wrk itself
# waits out its duration: `wrk_until` stops it once the server has answered them).
cat "$work/request.lua" - >"$work/limited.lua" <<'EOF'
local limit = tonumber(os.getenv("LIMIT")) / 2
local answered = 0
function response(status)
    answered = answered + 1
    if answered >= limit then wrk.thread:stop() end
end
EOF

start_server throughput
say "server at $url"

say "1/3 wrk: ${wrk_seconds}s, $concurrency connections"
before="$(served throughput)"
cpu_before="$(server_cpu)"
wrk -t2 -c"$concurrency" -d"${wrk_seconds}s" -s "$work/request.lua" "$url" >"$work/wrk.txt"
wrk_server_us="$(per_request "$(awk -v a="$cpu_before" -v b="$(server_cpu)" 'BEGIN { print b - a }')" "$(($(served throughput) - before))")"
non_2xx="$(grep -o 'Non-2xx or 3xx responses: [0-9]*' "$work/wrk.txt" || true)"
if [[ -n "$non_2xx" ]]; then
    say "wrk got answers that are not 200 ($non_2xx): the request is wrong"
    exit 1
fi
wrk_rate="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$work/wrk.txt")"

say "2/3 batchconf run: --examples $run_examples, --concurrency $concurrency"
before="$(served throughput)"
cpu_before="$(server_cpu)"
start="$(now)"
status=0
"$bin" run --target "$url" --token "$token" --project-id "$project" --fixture-assets "$fixtures" \
    --examples "$run_examples" --concurrency "$concurrency" --seed 20261129 >"$work/run.txt" 2>&1 || status=$?
seconds="$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')"
sent="$(awk '/^requests sent: / { print $3 }' "$work/run.txt")"
if [[ -z "$sent" ]]; then
    say "batchconf run printed no \`requests sent\` line (exit $status):"
    tail -n 20 "$work/run.txt" >&2
    exit 1
fi
if [[ "$status" != 0 ]]; then
    say "batchconf run exited $status against the reference server (divergences?); its summary:"
    tail -n 5 "$work/run.txt" >&2
fi
run_rate="$(rate "$sent" "$seconds")"
run_server_us="$(per_request "$(awk -v a="$cpu_before" -v b="$(server_cpu)" 'BEGIN { print b - a }')" "$(($(served throughput) - before))")"
say "   $sent requests in ${seconds}s (the server counted $(($(served throughput) - before)))"

say "3/3 Schemathesis $version: as CI runs it, -n $fuzz_examples"
bash "$root/tests/fuzz/spec.sh" "$bin" "$venv/bin/python" >"$work/spec.json"
before="$(served throughput)"
start="$(now)"
"$venv/bin/st" run "$work/spec.json" --url "$url" -H "X-Auth-Token: $token" \
    --mode all --checks all --exclude-checks ignored_auth \
    -n "$fuzz_examples" --seed 20261128 --no-color >"$work/st.txt" 2>&1 || say "   (Schemathesis reported failures; its rate still counts)"
st_seconds="$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')"
st_sent="$(($(served throughput) - before))"
st_rate="$(rate "$st_sent" "$st_seconds")"
say "   $st_sent requests in ${st_seconds}s"

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)"
echo "wrk (one fixed request, $concurrency connections): $wrk_rate requests/s"
echo "batchconf run (checked exchanges, concurrency $concurrency): $run_rate exchanges/s ($sent in ${seconds}s)"
echo "Schemathesis $version (as CI runs it): $st_rate requests/s ($st_sent in ${st_seconds}s)"
awk -v b="$run_rate" -v w="$wrk_rate" -v s="$st_rate" 'BEGIN {
    printf "batchconf / wrk: %.0f%% (target: at least 50%%)\n", 100 * b / w
    printf "batchconf / Schemathesis: %.0fx (target: at least 100x)\n", b / s
}'
# The server answers on one thread (wiremock runs it on one current-thread runtime), so its own
# CPU per request bounds any client: batchconf's requests carry many ids, wrk's one.
awk -v w="$wrk_server_us" -v r="$run_server_us" -v wr="$wrk_rate" 'BEGIN {
    printf "server CPU per request: %.1f us for wrk'"'"'s, %.1f us for batchconf'"'"'s: on its one thread it could answer at most %.0f of batchconf'"'"'s per second, %.0f%% of wrk'"'"'s rate, even from a client that cost nothing\n", w, r, 1e6 / r, 100 * (1e6 / r) / wr
}'

if [[ "$memory_requests" -gt 0 ]]; then
    kill "$pid" && wait "$pid" 2>/dev/null || true
    start_server memory
    rss() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
    # Sends requests with wrk until the server has answered $1 in all.
    wrk_until() {
        LIMIT=$(($1 - $(served memory))) wrk -t2 -c"$concurrency" -d1h -s "$work/limited.lua" "$url" >"$work/wrk-memory.txt" &
        local load=$!
        children+=("$load")
        while kill -0 "$load" 2>/dev/null && [[ "$(served memory)" -lt "$1" ]]; do
            sleep 0.5
        done
        kill -INT "$load" 2>/dev/null || true
        wait "$load" 2>/dev/null || true
        sleep 1
    }
    say "memory: a fresh server, 10000 then $memory_requests requests with wrk"
    base="$(rss)"
    wrk_until 10000
    at_10k="$(rss)"
    wrk_until "$memory_requests"
    at_end="$(rss)"
    echo "serve resident memory: $base MB at start, $at_10k MB after 10000 requests, $at_end MB after $(served memory)"
    awk -v a="$at_10k" -v b="$at_end" 'BEGIN { printf "serve memory growth: %.2fx (target: at most 1.5x)\n", b / a }'
fi
