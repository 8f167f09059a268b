# shellcheck shell=sh
# Sourced by the DHCP tests: skip (exit 77, CTest: skipped) with a clear message where what a
# test needs is missing.
#   needs_namespaces FLEET   root and network namespaces (FLEET: tests/fleet/fleet.sh)
#   needs_tools TOOL...      every TOOL on PATH (scripts/setup installs them)

needs_namespaces() {
  if ! reason=$("$1" check 2>&1); then
    echo "SKIP: $reason (DHCP tests need root and network namespaces)"
    exit 77
  fi
}

needs_tools() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/setup installs it)"; exit 77; }
  done
}
