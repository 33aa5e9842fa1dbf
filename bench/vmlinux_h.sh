#!/usr/bin/env bash
# vmlinux.h from the running kernel's BTF: bpfhook against bpftool, same machine, one run.
# Wall time (hyperfine) and peak RSS (GNU time). Output goes to /dev/null for both.
set -euo pipefail
bpfhook=${1:-target/release/bpfhook}
hyperfine --warmup 3 --runs 30 --export-markdown /dev/stdout \
    "$bpfhook btf dump > /dev/null" \
    "bpftool btf dump file /sys/kernel/btf/vmlinux format c > /dev/null"
for cmd in "$bpfhook btf dump" "bpftool btf dump file /sys/kernel/btf/vmlinux format c"; do
    /usr/bin/time -f "peak RSS %M KB: $cmd" sh -c "$cmd > /dev/null"
done
