/* A perf event array written from the first system call after attaching: the readers must
 * already be open. Only the tgid user space puts in early_target[0] is traced; each record is
 * a sequence number. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, sizeof(__u32));
} early_perf SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} early_target SEC(".maps");

/* [0] records written, [1] outputs that failed. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} early_stats SEC(".maps");

__u64 early_seq;

SEC("raw_tp/sys_enter")
int early_output(void *ctx)
{
    __u32 zero = 0, *target = bpf_map_lookup_elem(&early_target, &zero);
    if (!target || *target != bpf_get_current_pid_tgid() >> 32)
        return 0;
    __u64 seq = __sync_fetch_and_add(&early_seq, 1);
    __u32 slot = bpf_perf_event_output(ctx, &early_perf, BPF_F_CURRENT_CPU, &seq, sizeof(seq)) ? 1 : 0;
    __u64 *n = bpf_map_lookup_elem(&early_stats, &slot);
    if (n)
        __sync_fetch_and_add(n, 1);
    return 0;
}

char _license[] SEC("license") = "GPL";
