# Sourced by the scripts that start `batchconf serve`: `listening_url OUT PID` waits (up to 10 s)
# for the server's first stdout line, `batchconf serve listening on http://127.0.0.1:PORT`, in the
# file OUT, and prints the URL; it prints nothing if server PID exits or never says it listens.
listening_url() {
    local out="$1" pid="$2" line
    for _ in $(seq 1 100); do
        line="$(head -n 1 "$out" 2>/dev/null || true)"
        if [[ "$line" == "batchconf serve listening on "* ]]; then
            echo "${line#batchconf serve listening on }"
            return
        fi
        kill -0 "$pid" 2>/dev/null || return
        sleep 0.1
    done
}
