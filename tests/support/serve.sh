# Sourced by the scripts that point an outside tool at `batchconf serve`: builds batchconf, starts
# the server on a free 127.0.0.1 port with the arguments given, sets $url, and stops the server
# when the script exits. Needs $target (the cargo target dir) and $root (the repository) set, and a
# label in $tool for messages.

(cd "$root" && cargo build --quiet --bin batchconf)
serve_log="$(mktemp)"
serve_out="$(mktemp)"
"$target/debug/batchconf" serve --port 0 "$@" >"$serve_out" 2>"$serve_log" &
server=$!
stop_server() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -f "$serve_log" "$serve_out"
}
trap stop_server EXIT

# shellcheck source=listening.sh
source "$root/tests/support/listening.sh"
url="$(listening_url "$serve_out" "$server")"
if [[ -z "$url" ]]; then
    echo "$tool: the server did not start; its log:" >&2
    cat "$serve_log" >&2
    exit 1
fi

# Shows the server's log, for a failure.
server_log() {
    echo "$tool: server log:" >&2
    cat "$serve_log" >&2
}
