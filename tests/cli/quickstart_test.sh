#!/bin/bash
# The README's quickstart as a newcomer runs it (dependencies already installed): in a fresh run
# dir, `scripts/quickstart` starts axion-server (embedded) and an agent, deploys the example
# (v1, a canary v2, a rollback) and exits 0 with the example answering v1; a second run is
# idempotent (the server replaced by one on the same data, the same project, three more
# deployments); `scripts/quickstart stop` leaves nothing of it running.
# Usage: quickstart_test.sh <repo root> <preset>   (scratch under $AXION_TEST_RUN_DIR/tests)
set -euo pipefail
root="$1" preset="$2"
scratch="${AXION_TEST_RUN_DIR:-/tmp}/tests"
mkdir -p "$scratch"
run="$(mktemp -d "$scratch/quickstart-XXXXXX")"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export AXION_RUN_DIR="$run" AXION_SKIP_DEPS=1 AXION_PRESET="$preset"
export AXION_GRPC_ADDR="127.0.0.1:$(free_port)" AXION_HTTP_ADDR="127.0.0.1:$(free_port)"
unset AXION_API_TOKENS AXION_TOKEN AXION_MASTER_KEY AXION_DATA_DIR KAFKA_BROKERS DATABASE_URL
quickstart="$root/scripts/quickstart"
trap '"$quickstart" stop >/dev/null 2>&1 || true' EXIT

fail() { echo "FAIL: $*"; exit 1; }
# Alive: exists and is not a zombie (an orphan's parent here may be slow to reap it).
alive() { [[ -r "/proc/$1/stat" ]] && [[ "$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat")" != Z ]]; }

echo "== first run"
"$quickstart" >"$run/first.log" 2>&1 || { tail -50 "$run/first.log"; fail "scripts/quickstart exited $?"; }
grep -q "web v1 -> api v1 -> worker v1" "$run/first.log" || fail "v1 was not shown serving"
grep -q "web v2 -> api v2 -> worker v2" "$run/first.log" || grep -q "web v2" "$run/first.log" ||
  fail "v2 was not shown serving"
grep -q "Try:" "$run/first.log" || fail "no 'what to try next'"
answer="$(curl -fsS --max-time 5 http://127.0.0.1:18080/)" || fail "the example does not answer"
[[ "$answer" == *"web v1 -> api v1 -> worker v1"* ]] || fail "after the rollback it serves '$answer'"
server_pid="$(cat "$run/axion-server.pid")"

export AXION_ADDR="$AXION_GRPC_ADDR" AXION_TOKEN="$(cat "$run/api.token")"
cli="$root/build/$preset/cli/axion"
count() { "$cli" history -p shop -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["deployments"]))'; }
first_count="$(count)"
[[ "$first_count" == 3 ]] || fail "after one run the history has $first_count deployments, not 3"
"$cli" history -p shop -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)["deployments"]
statuses = [x["status"] for x in d]
assert statuses == ["DEPLOYMENT_STATUS_SUCCESS"] * 3, statuses
assert d[0]["rollbackOf"], "the newest deployment is not a rollback: %r" % d[0]
' || fail "the history is not v1, v2, rollback, all successful"

echo "== second run (idempotent)"
"$quickstart" >"$run/second.log" 2>&1 || { tail -50 "$run/second.log"; fail "the second run exited $?"; }
alive "$server_pid" && fail "the first run's server (pid $server_pid) still runs"
server_pid="$(cat "$run/axion-server.pid")"
alive "$server_pid" || fail "no server runs after the second run"
[[ "$("$cli" project list -o json | python3 -c 'import json,sys; print(sum(p["name"] == "shop" for p in json.load(sys.stdin)["projects"]))')" == 1 ]] ||
  fail "the second run registered the project again"
[[ "$(count)" == 6 ]] || fail "the second run made $(count) deployments in all, not 6"

echo "== stop"
"$quickstart" stop >"$run/stop.log" 2>&1 || fail "scripts/quickstart stop exited $?"
sleep 1
alive "$server_pid" && fail "axion-server (pid $server_pid) still runs"
for pid in $(pgrep -f "$run/quickstart-agent|^axion-example-shop --role"); do
  alive "$pid" && fail "pid $pid still runs: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
done
curl -fsS --max-time 2 http://127.0.0.1:18080/ >/dev/null 2>&1 && fail "the example still answers"
"$quickstart" status >/dev/null 2>&1 && fail "scripts/quickstart status says it still runs"
trap - EXIT
rm -rf "$run"
echo "quickstart: all passed"
