#!/bin/bash
# `axion completion bash|zsh`: the generated script loads in bash and completes subcommands per
# command path, options, and -o values, as a shell would call it.
# Usage: completion_test.sh <path to the axion binary>
set -euo pipefail
export LC_ALL=C  # a stable sort order
axion="$1"
failures=0

# Completions for the words typed so far (the last one is being completed).
complete_words() {
  bash -c '
    source <("$0" completion bash)
    COMP_WORDS=("$@")
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    _axion
    printf "%s\n" "${COMPREPLY[@]}"
  ' "$axion" "$@"
}

expect() {
  local want="$1"; shift
  local got
  got="$(complete_words "$@" | sort | tr '\n' ' ' | sed 's/ $//')"
  if [[ "$got" != "$want" ]]; then
    echo "FAIL: completing [$*]: want [$want], got [$got]"
    failures=$((failures + 1))
  else
    echo "ok: [$*] -> [$got]"
  fi
}

expect "project promote" axion pro
expect "project" axion proj
expect "publish" axion project pu
expect "list publish" axion project ""
expect "export" axion audit ex
expect "tail" axion events t
expect "--follow" axion events tail --fo
expect "json table yaml" axion status -o ""
expect "--project" axion events tail -p shop --pro
expect "install" axion servers -c local ins
expect "agents as-of audit" axion a
expect "--commit --file --help -f -h" axion project publish ""
expect "--help -h" axion project -
# Every top-level command is offered.
top="$(complete_words axion "" | tr '\n' ' ')"
for cmd in project deploy status history cancel rollback promote pause clusters servers agents events replay audit as-of completion; do
  [[ " $top " == *" $cmd "* ]] || { echo "FAIL: '$cmd' not offered at the top level: $top"; failures=$((failures + 1)); }
done
# zsh gets the same function through bashcompinit.
"$axion" completion zsh | head -3 | grep -q "bashcompinit" || { echo "FAIL: zsh script lacks bashcompinit"; failures=$((failures + 1)); }
# A shell it does not know is invalid input (exit 2).
rc=0
"$axion" completion fish >/dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || { echo "FAIL: completion fish exited $rc, not 2"; failures=$((failures + 1)); }

if ((failures > 0)); then
  echo "$failures failure(s)"
  exit 1
fi
echo "completion: all passed"
