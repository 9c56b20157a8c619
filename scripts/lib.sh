#!/usr/bin/env bash
# Shared helpers for the project's scripts: paths, logging, and tool lookup.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${REKEY_TOOLS_DIR:-$ROOT/.tools}"
BIN="$TOOLS/bin"
# shellcheck source=versions.env
. "$ROOT/scripts/versions.env"
export PATH="$BIN:$PATH"

log() { printf '[rekey] %s\n' "$*" >&2; }
die() {
  printf '[rekey] ERROR: %s\n' "$*" >&2
  exit 1
}

node_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) echo x64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) die "unsupported CPU $(uname -m): install Node ${NODE_VERSION} yourself and put it first on PATH" ;;
  esac
}

# java_with_major N: print the path of a java binary whose major version is at least N, searching
# JAVA_HOME, /usr/lib/jvm and PATH explicitly rather than trusting whatever `java` is first on PATH.
java_with_major() {
  local want="$1" candidate major
  for candidate in "${JAVA_HOME:-/nonexistent}/bin/java" /usr/lib/jvm/*/bin/java "$(command -v java 2>/dev/null || true)"; do
    [ -x "$candidate" ] || continue
    major="$("$candidate" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
    major="${major%%.*}"
    if [ -n "$major" ] && [ "$major" -ge "$want" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}
