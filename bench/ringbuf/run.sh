#!/bin/sh
# Ring buffer drain: bpfhook's reader, aya's RingBuf and libbpf's ring_buffer__consume on the
# same BPF object, in one run. Needs root, clang and libbpf-dev.
#   bench/ringbuf/run.sh [ROUNDS]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${CARGO_TARGET_DIR:-$root/target}/bench-ringbuf
mkdir -p "$out"
arch=$(uname -m)
clang -O2 -g -target bpf -I"/usr/include/$arch-linux-gnu" \
    -c "$here/ringbuf_bench.bpf.c" -o "$out/ringbuf_bench.bpf.o"
cc -O2 -Wall -o "$out/libbpf_drain" "$here/libbpf_drain.c" -lbpf -lelf -lz -lpthread
cd "$root"
cargo bench -p bpfhook --bench ringbuf -- "$out/ringbuf_bench.bpf.o" "$out/libbpf_drain" "${1:-7}"
