#!/bin/bash
# Instructions per proxied request, counted by callgrind (stable on a shared
# machine, unlike CPU time): starts the bench's mock upstream and GPROXY_BIN
# under callgrind with instrumentation off, sends 300 warm-up requests, then
# counts N sequential `chat` requests over one keep-alive connection.
#
#   scripts/callgrind_requests.sh GPROXY_BIN GPROXY_BENCH_BIN N [extra TOML]
#
# e.g. scripts/callgrind_requests.sh target/release/gproxy \
#        target/release/gproxy-bench 2000 "$(printf '[logging]\nrecord_requests = false\n')"
#
# STREAM=100 (environment) makes each request a stream (`stream: true` on the
# provider route, as the bench's `chat-stream`) of that many deltas, and
# prints the count per delta too.
# Needs valgrind and python3. See docs/benchmarks.md ("Metrics").
set -euo pipefail
BIN=$1; BENCH=$2; N=$3; EXTRA=${4:-}
D=$(mktemp -d)
MOCK_PORT=$((20000 + RANDOM % 10000)); GW_PORT=$((30000 + RANDOM % 10000))
mkfifo "$D/in"
"$BENCH" mock --port "$MOCK_PORT" < "$D/in" > "$D/mock.log" 2>&1 &
MOCK=$!
exec 3>"$D/in" # the mock serves until its stdin closes
STREAM=${STREAM:-0}
if [ "$STREAM" -gt 0 ]; then
  echo "stream $STREAM 0" >&3
  for _ in $(seq 1 100); do grep -q '^ok' "$D/mock.log" && break; sleep 0.1; done
fi
cat > "$D/gproxy.toml" <<TOML
admin_key = "sk-admin-cg-0123456789abcdef"
$EXTRA
[[providers]]
name = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
[[providers.credentials]]
api_key = "sk-upstream-openai-bench"
[[users]]
name = "bench"
keys = ["sk-bench-user-0123456789abcdef"]
TOML
GPROXY_LOG=warn valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$D/cg.out" \
  "$BIN" --config "$D/gproxy.toml" --port "$GW_PORT" --data-dir "$D/data" > "$D/gw.log" 2>&1 &
GW=$!
for _ in $(seq 1 600); do curl -s -o /dev/null "http://127.0.0.1:$GW_PORT/health" && break; sleep 0.5; done
drive() {
  python3 - "$GW_PORT" "$1" "$STREAM" <<'PY'
import http.client, json, sys
port, n, stream = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) > 0
if stream:
    path = "/openai/v1/chat/completions"
    body = json.dumps({"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
else:
    path = "/v1/chat/completions"
    body = json.dumps({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.request("POST", path, body,
              {"authorization": "Bearer sk-bench-user-0123456789abcdef", "content-type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
}
drive 300
callgrind_control -i on "$GW" > /dev/null
drive "$N"
sleep 2
callgrind_control -i off "$GW" > /dev/null
kill -TERM "$GW"; wait "$GW" || true
exec 3>&-; wait "$MOCK" || true
IR=$(grep -E "^totals:" "$D/cg.out" | head -1 | awk '{print $2}')
echo "$IR instructions / $N requests = $((IR / N)) per request (callgrind output: $D/cg.out)"
if [ "$STREAM" -gt 0 ]; then echo "$((IR / N / STREAM)) per delta"; fi
