/* Tracepoint and raw tracepoint: count execve/syscall entries per process (tgid). */
#include "counters.h"

SEC("tracepoint/syscalls/sys_enter_execve")
int tp_execve(void *ctx)
{
    bump(current_tgid());
    return 0;
}

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, __u64);
} raw_counts SEC(".maps");

SEC("raw_tp/sys_enter")
int rawtp_sys_enter(void *ctx)
{
    __u32 key = current_tgid();
    __u64 one = 1, *value = bpf_map_lookup_elem(&raw_counts, &key);
    if (value)
        __sync_fetch_and_add(value, 1);
    else
        bpf_map_update_elem(&raw_counts, &key, &one, BPF_NOEXIST);
    return 0;
}
