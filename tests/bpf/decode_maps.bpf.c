/* Maps whose contents bpfhook prints typed at exit: execs per comm (char[16] keys), a per-CPU
 * counter, and per-process stats in a struct with an enum. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "GPL";

enum exec_kind { EXEC_FIRST = 1, EXEC_AGAIN = 2 };

struct exec_stats {
    __u64 count;
    char last_comm[16];
    enum exec_kind kind;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, char[16]);
    __type(value, __u64);
} by_comm SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} per_cpu_total SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, struct exec_stats);
} by_pid SEC(".maps");

SEC("tracepoint/syscalls/sys_exit_execve")
int count_execs(void *ctx)
{
    char comm[16] = {};
    __u64 one = 1, *n;
    __u32 zero = 0, pid = bpf_get_current_pid_tgid() >> 32;
    struct exec_stats fresh = {}, *stats;

    bpf_get_current_comm(comm, sizeof(comm));
    n = bpf_map_lookup_elem(&by_comm, comm);
    if (n)
        __sync_fetch_and_add(n, 1);
    else
        bpf_map_update_elem(&by_comm, comm, &one, BPF_NOEXIST);

    n = bpf_map_lookup_elem(&per_cpu_total, &zero);
    if (n)
        *n += 1;

    stats = bpf_map_lookup_elem(&by_pid, &pid);
    if (!stats) {
        fresh.kind = EXEC_FIRST;
        bpf_map_update_elem(&by_pid, &pid, &fresh, BPF_NOEXIST);
        stats = bpf_map_lookup_elem(&by_pid, &pid);
        if (!stats)
            return 0;
    } else {
        stats->kind = EXEC_AGAIN;
    }
    stats->count += 1;
    bpf_get_current_comm(stats->last_comm, sizeof(stats->last_comm));
    return 0;
}
