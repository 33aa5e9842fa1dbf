#!/bin/sh
# bpfhook's tools (opensnoop, biolatency, profile) against bpftrace 0.17 running the same tools:
# start-up, peak RSS, opensnoop's per-event cost. Usage: bench/tools.sh target/release/bpfhook [RUNS [OPENS]]
set -eu
bpfhook=$(realpath "${1:?usage: bench/tools.sh BPFHOOK [RUNS [OPENS]]}")
shift
cd "$(dirname "$0")"
ulimit -l unlimited 2>/dev/null || true
exec python3 tools.py "$bpfhook" "$@"
