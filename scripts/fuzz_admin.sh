#!/usr/bin/env bash
# Fuzzes the admin API from its own OpenAPI document with schemathesis
# (PyPI), against a fresh gproxy on a scratch data dir. Fails on any 5xx,
# any answer that breaks the document (status, content type, body schema,
# headers), a schema-violating request that is accepted, or a 405 without
# `Allow`. Bounded: a fixed number of examples per operation and a timeout.
#
#   scripts/fuzz_admin.sh [path to the gproxy binary]
#
# Not checked: "positive data acceptance" (a schema-valid body must be
# accepted). The API enforces rules no JSON Schema states (a name that is
# taken, a provider that must exist, fields that only a `custom` provider
# takes, an expiry in the future) and answers those with 400/409, as it
# should.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${1:-${CARGO_TARGET_DIR:-target}/debug/gproxy}"
VENV="${GPROXY_FUZZ_VENV:-$HOME/.cache/gproxy-schemathesis}"
SCHEMATHESIS_VERSION="4.32.5"
# 25 examples per operation keep the whole run (coverage, fuzzing and
# stateful phases against a debug build) near eight minutes on two slow
# cores; the timeout is a guard against a hang, with room for a slower
# machine.
EXAMPLES="${GPROXY_FUZZ_EXAMPLES:-25}"

if [ ! -x "$VENV/bin/schemathesis" ] || ! "$VENV/bin/schemathesis" --version | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

WORK="$(mktemp -d)"
KEY="sk-admin-fuzz-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$BIN" --port 0 --host 127.0.0.1 --data-dir "$WORK/data" --admin-key "$KEY" \
  > "$WORK/stdout" 2> "$WORK/stderr" &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

URL=""
for _ in $(seq 1 100); do
  URL="$(grep -o 'http://[0-9.:]*' "$WORK/stdout" | head -n1 || true)"
  [ -n "$URL" ] && break
  sleep 0.1
done
if [ -z "$URL" ]; then
  echo "fuzz_admin: gproxy did not start" >&2
  cat "$WORK/stderr" >&2
  exit 1
fi

status=0
# Run from the scratch dir: schemathesis and hypothesis keep caches in the
# working directory, which must not be the repository.
cd "$WORK"
timeout 1200 "$VENV/bin/schemathesis" run "$URL/admin/api/openapi.json" \
  -H "Authorization: Bearer $KEY" \
  --checks all --exclude-checks positive_data_acceptance \
  --max-examples "$EXAMPLES" --workers 1 --seed 20261204 \
  --request-timeout 10 || status=$?
if grep -q "panicked" "$WORK/stderr"; then
  echo "fuzz_admin: the gateway panicked:" >&2
  grep -A5 "panicked" "$WORK/stderr" >&2
  status=1
fi
exit $status
