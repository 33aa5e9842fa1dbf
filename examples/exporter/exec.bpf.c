/* Execs by command name: one counter per comm, bumped by every successful exec. */
#include "vmlinux.h"
#include "maps.h"

char LICENSE[] SEC("license") = "GPL";

struct comm_key {
    char comm[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct comm_key);
    __type(value, __u64);
} exec_count SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int count_exec(void *ctx)
{
    struct comm_key key = {};

    /* At sched_process_exec the task already carries the new program's name. */
    bpf_get_current_comm(key.comm, sizeof(key.comm));
    add_to(&exec_count, &key, 1);
    return 0;
}
