# shellcheck shell=bash
# Shared helpers for the scripts in scripts/. Source it; do not execute it:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#
# Provides:
#   AXION_ROOT     repository root (derived from this file's location)
#   AXION_RUN_DIR  scratch dir for local services, pids and logs (default $AXION_ROOT/.run, git-ignored)
#   log MSG...                      timestamped message to stderr
#   die MSG...                      log MSG and exit 1
#   as_root CMD...                  run CMD directly when uid 0, else through sudo
#   apt_install_missing PKG...      install the Debian packages that are not installed yet
#   wait_for_port HOST PORT SECS NAME   wait until HOST:PORT accepts TCP connections
#   pid_alive PID                   true when PID names a running process
#   tail_log FILE [LINES]           print the last lines of FILE to stderr (for error reports)

if [[ -n "${AXION_COMMON_SH_LOADED:-}" ]]; then
  return 0
fi
AXION_COMMON_SH_LOADED=1

AXION_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
export AXION_ROOT
AXION_RUN_DIR="${AXION_RUN_DIR:-$AXION_ROOT/.run}"
export AXION_RUN_DIR

log() {
  printf '[%s] %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$*" >&2
}

die() {
  log "ERROR: $*"
  exit 1
}

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root for '$*' but not running as root and sudo is not installed"
  fi
}

# True when the Debian package is fully installed.
pkg_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == "installed" ]]
}

# Installs only the packages that are missing. `apt-get update` runs at most once per run
# (AXION_APT_UPDATED is exported so nested scripts share the "once").
apt_install_missing() {
  local missing=() pkg
  for pkg in "$@"; do
    pkg_installed "$pkg" || missing+=("$pkg")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install manually: ${missing[*]}"
  log "Installing missing packages: ${missing[*]}"
  if [[ -z "${AXION_APT_UPDATED:-}" ]]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q \
      || die "apt-get update failed"
    AXION_APT_UPDATED=1
    export AXION_APT_UPDATED
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
}

# True if something accepts TCP connections on host:port right now.
port_open() {
  local host="$1" port="$2"
  # shellcheck disable=SC2016  # $0/$1 expand in the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" >/dev/null 2>&1
}

# wait_for_port HOST PORT TIMEOUT_SECONDS NAME
wait_for_port() {
  local host="$1" port="$2" timeout_s="$3" name="${4:-$1:$2}"
  local deadline=$((SECONDS + timeout_s))
  until port_open "$host" "$port"; do
    if ((SECONDS >= deadline)); then
      log "ERROR: $name did not accept connections on $host:$port within ${timeout_s}s"
      return 1
    fi
    sleep 0.5
  done
}

# True when PID runs (a zombie, i.e. a dead child not yet reaped, does not count).
pid_alive() {
  local pid="${1:-}" state=""
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/stat" ]]; then
    state="$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null || true)"
    [[ "$state" != "Z" ]] || return 1
  fi
  return 0
}

tail_log() {
  local file="$1" lines="${2:-40}"
  if [[ -s "$file" ]]; then
    echo "----- last $lines lines of $file -----" >&2
    tail -n "$lines" "$file" >&2
    echo "----- end of $file -----" >&2
  else
    echo "(log $file is empty or missing)" >&2
  fi
}
