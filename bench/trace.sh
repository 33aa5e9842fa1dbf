#!/usr/bin/env bash
# `bpfhook trace` against bpftrace 0.17 (Debian), same machine, one run (issue 10's measures):
#   1. `BEGIN { printf("hi\n"); exit(); }` start to exit: wall time (hyperfine -N) and peak RSS
#      (GNU time);
#   2. `tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }`: start to attached, peak RSS,
#      and the kernel's run_time_ns / run_cnt of each tool's program over a tight openat loop
#      (bench/trace_attach.py);
#   3. compile only, generated scripts of 500…4000 lines, two shapes: one BEGIN probe of simple
#      statements, and one `interval` probe per line. bpfhook: `trace --dry-run` (parse, types,
#      codegen onto asm; nothing is loaded). bpftrace 0.17: `--emit-elf FILE` (its dry run that
#      goes through LLVM to an ELF; nothing is loaded);
#   4. size of the bpfhook binary against bpftrace plus the shared libraries it resolves.
# bpftrace says on stderr that it cannot raise RLIMIT_MEMLOCK here (hard limit 8192); it runs
# anyway (memcg accounting), so stderr goes to /dev/null.
#   bench/trace.sh [BPFHOOK]    (RUNS, SIZES, ATTACH_RUNS, OPENS override the defaults)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bpfhook=$(realpath "${1:-target/release/bpfhook}")
runs=${RUNS:-20}
sizes=${SIZES:-500 1000 2000 4000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

peak_rss_mb() { # peak RSS of a command that exits by itself; fails if the command does
    /usr/bin/time -f "%M" -o "$work/rss" "$@" > /dev/null 2>&1 || return 1
    echo "scale=1; $(tail -n 1 "$work/rss") / 1024" | bc
}

mean_ms() { # mean wall time of a command over $1 hyperfine runs, or nan (and why) if it fails
    local runs=$1
    shift
    if hyperfine -N --runs "$runs" --style none --export-json "$work/mean.json" "$*" \
        > "$work/hyperfine.log" 2>&1; then
        jq '.results[0].mean * 1000' "$work/mean.json"
    else
        echo "hyperfine failed on '$*': $(tail -n 3 "$work/hyperfine.log")" >&2
        echo nan
    fi
}

echo "## 1. hello: start to exit"
hello='BEGIN { printf("hi\n"); exit(); }'
hyperfine -N --warmup 3 --runs "$runs" --output null --style none --export-markdown "$work/hello.md" \
    -n "bpfhook trace" "$bpfhook trace -e '$hello'" \
    -n "bpftrace" "bpftrace -e '$hello'" 2>/dev/null
cat "$work/hello.md"
echo "peak RSS: bpfhook trace $(peak_rss_mb "$bpfhook" trace -e "$hello") MB," \
    "bpftrace $(peak_rss_mb bpftrace -e "$hello") MB"

echo
echo "## 2. openat count: start to attached, per-event cost"
python3 "$here/trace_attach.py" "$bpfhook" "${ATTACH_RUNS:-10}" "${OPENS:-200000}"

# One BEGIN probe of $1 lines: a scratch variable, a scalar map, a keyed map, printf.
begin_script() {
    echo 'BEGIN {'
    echo '    $x = 0;'
    for ((i = 3; i < $1; i++)); do
        case $((i % 4)) in
            0) echo "    @a = $i;" ;;
            1) echo "    @b[\$x] = $i;" ;;
            2) echo "    \$x = \$x + 1;" ;;
            3) echo "    printf(\"line $i: %d\\n\", \$x);" ;;
        esac
    done
    echo '}'
}

# One interval probe per line, each counting into its own key of one map.
interval_script() {
    for ((i = 0; i < $1; i++)); do
        echo "interval:s:1 { @c[$i] = count(); }"
    done
}

echo
echo "## 3. compile only (mean of hyperfine runs; peak RSS from GNU time)"
echo
echo "| script | lines | bpfhook trace --dry-run | peak RSS | bpftrace --emit-elf | peak RSS | time ratio |"
echo "|---|---|---|---|---|---|---|"
# bpftrace refuses more than 512 probes/programs unless told otherwise.
export BPFTRACE_MAX_PROBES=100000 BPFTRACE_MAX_BPF_PROGS=100000
for shape in begin interval; do
    for n in $sizes; do
        file="$work/$shape-$n.bt"
        "${shape}_script" "$n" > "$file"
        # bpftrace is slow on big scripts (quadratic, its issue #3257): one run past 2,000 lines.
        theirs=$(mean_ms $((n > 2000 ? 1 : 3)) bpftrace --emit-elf "$work/out.o" "$file")
        theirs_rss=$(peak_rss_mb bpftrace --emit-elf "$work/out.o" "$file" || echo fails)
        if ! "$bpfhook" trace --dry-run "$file" > "$work/err" 2>&1; then
            printf '| %s | %d | fails: %s | | %.1f ms | %s MB | |\n' "$shape" "$n" \
                "$(head -n 1 "$work/err")" "$theirs" "$theirs_rss"
            continue
        fi
        ours=$(mean_ms 10 "$bpfhook" trace --dry-run "$file")
        printf '| %s | %d | %.1f ms | %s MB | %.1f ms | %s MB | %.4f |\n' "$shape" "$n" \
            "$ours" "$(peak_rss_mb "$bpfhook" trace --dry-run "$file" || echo fails)" \
            "$theirs" "$theirs_rss" "$(echo "$ours / $theirs" | bc -l 2>/dev/null)"
    done
done

echo
echo "## 4. size on disk"
ours=$(stat -L -c %s "$bpfhook")
theirs=0
for f in /usr/bin/bpftrace $(ldd /usr/bin/bpftrace | awk '/=> \//{print $3} /^\t\//{print $1}'); do
    theirs=$((theirs + $(stat -L -c %s "$f")))
done
echo "bpfhook $((ours / 1024)) KiB; bpftrace + $(ldd /usr/bin/bpftrace | grep -c /) shared objects" \
    "$((theirs / 1024)) KiB; ratio $(echo "scale=4; $ours / $theirs" | bc)"
