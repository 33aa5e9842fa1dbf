#!/usr/bin/env bash
# Runs bpftrace's runtime test suite (shared/peer/bpftrace-runtime, read-only: copied to a
# temporary directory) against `bpfhook trace`, through a wrapper the suite calls as its
# bpftrace. Tests this kernel cannot run (kprobes, BPF trampolines) are left out by
# allowlist.py, each with its reason.
#
#   tests/bpftrace-suite/run.sh [--fast] [--check FILE] [SUITE…]
#
# --fast      only tests that need no traffic (no BEFORE/AFTER/SETUP commands)
# --check F   exit 1 if a test named in F (one `suite.name` per line) did not pass
# SUITE…      default: basic variable map call json-output tuples precedence other builtin probe for macro dwarf
#
# BPFHOOK_BIN picks the binary (default target/release/bpfhook, built if missing); the report
# (per-suite counts, then every test that did not pass) goes to stdout and to
# $BPFHOOK_SUITE_REPORT when set.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# The suite sits in the workplace's shared folder: beside this checkout, or at /work/shared for
# a clone made elsewhere (CI clones main afresh).
peer=${BPFHOOK_PEER:-}
if [ -z "$peer" ]; then
    for candidate in "$root/../shared/peer/bpftrace-runtime" /work/shared/peer/bpftrace-runtime; do
        if [ -d "$candidate/tests/runtime" ]; then
            peer=$candidate
            break
        fi
    done
fi
fast=0
check=""
suites=()
while [ $# -gt 0 ]; do
    case "$1" in
        --fast) fast=1 ;;
        --check) check=$2; shift ;;
        *) suites+=("$1") ;;
    esac
    shift
done
[ ${#suites[@]} -gt 0 ] || suites=(basic variable map call json-output tuples precedence other builtin probe for macro dwarf)
[ -n "$peer" ] && [ -d "$peer/tests/runtime" ] || { echo "bpftrace's suite is neither beside this checkout (../shared/peer/bpftrace-runtime) nor in /work/shared/peer: set BPFHOOK_PEER" >&2; exit 1; }

bin=${BPFHOOK_BIN:-$root/target/release/bpfhook}
if [ ! -x "$bin" ]; then
    (cd "$root" && cargo build --release -q -p bpfhook-cli)
fi

# debugf() tests read the global trace buffer through debugfs, as bpftrace's CI has it.
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug || true

# No `-` or `.` in the path: tests match source paths of the test programs with [\w/]+.
work=$(mktemp -d /tmp/bpfhook_suite_XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$peer" "$work/peer"
chmod -R u+w "$work/peer"
tests="$work/peer/tests"
sed -i 's/@LIBBCC_BPF_CONTAINS_RUNTIME@/0/' "$tests/runtime/engine/cmake_vars.py"
python3 -m pip install -q --disable-pip-version-check --target "$work/py" looseversion >/dev/null

# The USDT programs include libbpf's usdt.h, which the suite does not ship: ours (on sdt.h)
# stands in for it.
usdt_include=(-I "$here")
for source in "$tests"/testlibs/*.c; do
    cc -g -O0 -shared -fPIC "${usdt_include[@]}" -o "$(dirname "$source")/lib$(basename "${source%.c}").so" "$source" 2>/dev/null || true
done
# The small programs some tests trace, built as upstream's CMake does: each as a fixed-address
# executable and as NAME-pie (usdt_lib linked with testlibs' libusdt_tp.so); false.bin is main's
# bare code (no ELF) for a uprobe at a file offset.
flags=(-g -O0 -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer "${usdt_include[@]}")
for source in "$tests"/testprogs/*.c; do
    libs=(-lpthread)
    if [ "$(basename "$source")" = usdt_lib.c ]; then
        libs+=(-I "$tests/testlibs" -L "$tests/testlibs" -lusdt_tp -Wl,-rpath,"$tests/testlibs")
    fi
    cc "${flags[@]}" -no-pie -o "${source%.c}" "$source" "${libs[@]}" 2>/dev/null || true
    cc "${flags[@]}" -fpie -pie -o "${source%.c}-pie" "$source" "${libs[@]}" 2>/dev/null || true
done
cc -c -o "$work/false.o" "$tests/testprogs/false.c" &&
    objcopy -S --only-section=.text --keep-symbol=main -O binary "$work/false.o" "$tests/testprogs/false.bin" || true
# The external debug info tests' binaries, as upstream's CMake makes them: stripped with the
# DWARF in a separate file (found with --debuginfo; or by debuglink in .debug/), and split
# DWARF beside the binary (.dwo files) or packaged (.dwp).
progs="$tests/testprogs"
mkdir -p "$progs/external_debug/dwo" "$progs/external_debug/dwp" "$progs/.debug"
objcopy --only-keep-debug "$progs/uprobe_test" "$progs/external_debug/uprobe_test-stripped.debug" &&
    objcopy --strip-debug "$progs/uprobe_test" "$progs/uprobe_test-stripped" || true
debug="$progs/.debug/uprobe_separate_debug-stripped.debug"
objcopy --only-keep-debug "$progs/uprobe_separate_debug" "$debug" &&
    objcopy --strip-debug --add-gnu-debuglink="$debug" "$progs/uprobe_separate_debug" "$progs/uprobe_separate_debug-stripped" || true
(cd "$progs/external_debug/dwo" && cc -g -O0 -gsplit-dwarf "$progs/uprobe_test.c" -o uprobe_test-split) || true
# clang's: llvm-dwp 14 never finishes on gcc 12's split DWARF 5 (and GNU dwp crashes on it).
(cd "$progs/external_debug/dwp" && clang -g -O0 -gsplit-dwarf "$progs/uprobe_test.c" -o uprobe_test-split &&
    timeout 60 llvm-dwp -e uprobe_test-split -o uprobe_test-split.dwp && rm -f ./*.dwo) || true

# Run as `bpftrace`, the binary is `bpfhook trace` (and its comm is bpftrace, as tests expect).
ln -s "$(realpath "$bin")" "$work/bpftrace"

filter=$(printf '%s.*:' "${suites[@]}")
filter=${filter%:}
(cd "$tests" && PYTHONPATH="$work/py:$tests/runtime/engine" BPFTRACE_RUNTIME_TEST_EXECUTABLE="$work/bpftrace" python3 "$here/allowlist.py" \
    --fast "$fast" --out "$work/allowlist" --skipped "$work/skipped" "${suites[@]}")
log="$work/log"
(cd "$tests" && PYTHONPATH="$work/py" BPFTRACE_RUNTIME_TEST_EXECUTABLE="$work/bpftrace" \
    RUNTIME_TEST_COLOR=no timeout 1500 python3 -u runtime/engine/main.py \
    --filter "$filter" --allowlist_file "$work/allowlist" >"$log" 2>&1) || true

report="$work/report"
python3 "$here/summarize.py" "$log" "$work/skipped" "${suites[@]}" | tee "$report"
[ -z "${BPFHOOK_SUITE_REPORT:-}" ] || cp "$report" "$BPFHOOK_SUITE_REPORT"
[ -z "${BPFHOOK_SUITE_LOG:-}" ] || cp "$log" "$BPFHOOK_SUITE_LOG"

if [ -n "$check" ]; then
    python3 "$here/summarize.py" --check "$check" "$log"
fi
