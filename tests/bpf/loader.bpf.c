/* What the loader must get right beyond plain maps: global data (.rodata frozen, .data, .bss),
 * a map of maps whose slot user space fills, a map pinned by name, and map sizes the loader
 * fixes (a ring buffer that is not a page multiple, a perf event array of 0 entries). */
#include "counters.h"

const volatile __u64 rodata_magic = 0xfeed0000;
__u64 data_seed = 42;
__u64 bss_hits;

struct inner_array {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} loader_inner SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(max_entries, 1);
    __type(key, __u32);
    __array(values, struct inner_array);
} loader_outer SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, __u32);
    __type(value, __u64);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} bpfhook_loader_pinned SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 5000);
} loader_ring SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, sizeof(__u32));
} loader_perf SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int loader_probe(void *ctx)
{
    __u32 tgid = current_tgid(), zero = 0;
    __u64 one = 1, *n;
    void *inner;

    /* counts[tgid] = the constants the loader wrote into .rodata and .data. */
    __u64 seen = rodata_magic + data_seed;
    bpf_map_update_elem(&counts, &tgid, &seen, BPF_ANY);
    __sync_fetch_and_add(&bss_hits, 1);

    inner = bpf_map_lookup_elem(&loader_outer, &zero);
    if (inner) {
        n = bpf_map_lookup_elem(inner, &zero);
        if (n)
            __sync_fetch_and_add(n, 1);
    }
    n = bpf_map_lookup_elem(&bpfhook_loader_pinned, &tgid);
    if (n)
        __sync_fetch_and_add(n, 1);
    else
        bpf_map_update_elem(&bpfhook_loader_pinned, &tgid, &one, BPF_NOEXIST);
    return 0;
}
