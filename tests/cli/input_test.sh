#!/bin/bash
# Input the axion CLI refuses itself, before it reaches any server: exit 2 (invalid input) and a
# message naming what is wrong. The address is a closed port, so reaching it would exit 3.
# Usage: input_test.sh <path to the axion binary>
set -uo pipefail
axion="$1"
export AXION_ADDR=127.0.0.1:1 AXION_TOKEN=t
failures=0

expect() {  # expect <exit> <text in stderr> -- <args...>
  local want_rc="$1" want_text="$2"
  shift 3
  local err rc=0
  err="$("$axion" "$@" 2>&1 >/dev/null)" || rc=$?
  if [[ $rc != "$want_rc" || "$err" != *"$want_text"* ]]; then
    echo "FAIL: axion $*: want exit $want_rc and '$want_text', got exit $rc: $err"
    failures=$((failures + 1))
  else
    echo "ok: axion $* -> $rc"
  fi
}

expect 2 "neither an RFC 3339 time" -- as-of yesterday -p shop
expect 2 "neither an RFC 3339 time" -- as-of 5x -p shop
expect 2 "neither an RFC 3339 time" -- as-of 5 -p shop
expect 2 "not in range 1 to 1000" -- events tail -n 5000
expect 2 "not in range 1 to 1000" -- events tail -n 0
expect 2 "--project is required" -- audit export
expect 2 "xml not in {table,json,yaml}" -- project list -o xml
expect 2 "big-bang not in {rolling,canary,blue-green}" -- deploy -p shop -s big-bang
expect 2 "fish not in {bash,zsh}" -- completion fish
expect 2 "cannot read" -- project publish -f /nonexistent/axion.yaml
# A well-formed request to a closed port: unreachable (3), said plainly.
expect 3 "cannot reach axion-server at 127.0.0.1:1" -- as-of 15m -p shop

if ((failures > 0)); then
  echo "$failures failure(s)"
  exit 1
fi
echo "input: all passed"
