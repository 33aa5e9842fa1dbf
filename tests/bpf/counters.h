/* Shared by the fixtures: a per-key counter map and a bump helper. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

static __always_inline void bump(__u32 key)
{
    __u64 one = 1, *value = bpf_map_lookup_elem(&counts, &key);
    if (value)
        __sync_fetch_and_add(value, 1);
    else
        bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
}

static __always_inline __u32 current_tgid(void)
{
    return bpf_get_current_pid_tgid() >> 32;
}

char _license[] SEC("license") = "GPL";
