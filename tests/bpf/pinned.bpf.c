/* For `load --pin`: count execs per command name (the name after exec), so a test can count
 * the runs of its own marker binary while the program outlives bpfhook. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct comm {
    char name[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, struct comm);
    __type(value, __u64);
} execs SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int count_exec(void *ctx)
{
    struct comm key = {};
    __u64 one = 1, *value;

    bpf_get_current_comm(key.name, sizeof(key.name));
    value = bpf_map_lookup_elem(&execs, &key);
    if (value)
        __sync_fetch_and_add(value, 1);
    else
        bpf_map_update_elem(&execs, &key, &one, BPF_NOEXIST);
    return 0;
}

/* A name longer than bpffs allows (255 bytes): its program pin fails after the maps are
 * pinned, so the test sees the rollback of a pin made midway. */
#define TEN(x) x##x##x##x##x##x##x##x##x##x
SEC("raw_tp/sys_enter")
int TEN(long_name_for_a_program_whose_pin_fails_)(void *ctx)
{
    return 0;
}

char _license[] SEC("license") = "GPL";
