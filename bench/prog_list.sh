#!/usr/bin/env bash
# `bpfhook prog list --json` against `bpftool -j prog list` with 100 extra programs loaded:
# wall time (hyperfine) and peak RSS (GNU time), same run. The programs are loaded by bpftool
# and pinned under a private bpffs directory, which the exit trap removes (unpinning unloads).
set -euo pipefail
bpfhook=${1:-target/release/bpfhook}
object=${2:-examples/hello.bpf.o}
count=${3:-100}
pins=/sys/fs/bpf/bpfhook-bench-$$
mkdir "$pins"
trap 'rm -rf "$pins"' EXIT
for i in $(seq "$count"); do
    bpftool prog load "$object" "$pins/p$i"
done
echo "programs loaded: $(bpftool prog list | grep -c '^[0-9]*:')"
hyperfine -N --warmup 5 --runs 50 --export-markdown /dev/stdout \
    "$bpfhook prog list --json" \
    "bpftool -j prog list"
for cmd in "$bpfhook prog list --json" "bpftool -j prog list"; do
    /usr/bin/time -f "peak RSS %M KB: $cmd" $cmd > /dev/null
done
