#!/usr/bin/env bash
# `bpfhook list` against `bpftrace -l`, same machine, one run: wall time (hyperfine, no shell,
# output to /dev/null) and peak RSS (GNU time).
#
# What each lists on a kernel like the project VM (no kprobes, trampolines refused):
#   bpftrace -l        tracepoints (available_events), kprobes only if available_filter_functions
#                      is readable, kfunc only if it detects trampolines, software/hardware, iter
#   bpfhook list       tracepoints, raw tracepoints (BTF btf_trace_*), software/hardware; kinds
#                      the feature probes refuse are left out (the probes themselves run)
#   bpfhook list --all everything: + kprobes/kretprobes (kallsyms text symbols here),
#                      fentry/fexit (BTF functions), lsm; no probes run
#   --kind tracepoint,software,hardware is the like-with-like subset of bpftrace's listing.
set -euo pipefail
bpfhook=${1:-target/release/bpfhook}
runs=${RUNS:-30}
commands=(
    "$bpfhook list '*execve*'"
    "bpftrace -l '*execve*'"
    "$bpfhook list --kind tracepoint,software,hardware '*execve*'"
    "$bpfhook list"
    "bpftrace -l"
    "$bpfhook list --kind tracepoint,software,hardware"
    "$bpfhook list --all"
)
table=$(mktemp)
trap 'rm -f "$table"' EXIT
hyperfine -N --warmup 3 --runs "$runs" --output null --style none --export-markdown "$table" \
    "${commands[@]}" 2>/dev/null
cat "$table"
echo
for cmd in "${commands[@]}"; do
    # bpftrace warns on stderr that available_filter_functions is unreadable; keep it quiet.
    rss=$( { /usr/bin/time -f "%M" sh -c "$cmd > /dev/null 2>/dev/null"; } 2>&1 )
    lines=$(sh -c "$cmd 2>/dev/null" | wc -l)
    printf '%-70s peak RSS %6.1f MB  %6d lines\n' "$cmd" "$(echo "$rss / 1024" | bc -l)" "$lines"
done
