/* Benchmark fixture: each getppid() call fills the next of SERIES keys (wrapping), so a driver
 * that calls it SERIES times makes exactly that many series, and then keeps bumping them. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define SERIES 10000


struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} next_index SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, SERIES);
    __type(key, __u32);
    __type(value, __u64);
} bench_series SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int fill(void *ctx)
{
    __u32 zero = 0;
    __u64 *next = bpf_map_lookup_elem(&next_index, &zero);
    if (!next)
        return 0;
    __u32 key = __sync_fetch_and_add(next, 1) % SERIES;
    __u64 one = 1, *count = bpf_map_lookup_elem(&bench_series, &key);
    if (count)
        __sync_fetch_and_add(count, 1);
    else
        bpf_map_update_elem(&bench_series, &key, &one, BPF_NOEXIST);
    return 0;
}
