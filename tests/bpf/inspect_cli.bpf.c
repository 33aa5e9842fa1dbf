/* Fixture for the inspect tests (cli): one tracepoint program per test (each test selects its
 * own, so names are unique among parallel tests), a BTF-typed hash, a per-CPU array, and a
 * legacy-section map, which gets no BTF key/value types. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct insp_value {
    __u64 count;
    char comm[16];
    __s32 delta;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, __u32);
    __type(value, struct insp_value);
} insp_cli_typed SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} insp_cli_pcpu SEC(".maps");

/* The pre-BTF map definition, laid out as the loaders read it. */
struct legacy_map_def {
    unsigned int type, key_size, value_size, max_entries, map_flags;
};
struct legacy_map_def insp_cli_raw SEC("maps") = {
    .type = BPF_MAP_TYPE_HASH,
    .key_size = 8,
    .value_size = 8,
    .max_entries = 16,
};

static __always_inline int count_exec(void)
{
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    struct insp_value *value = bpf_map_lookup_elem(&insp_cli_typed, &tgid);
    if (value) {
        __sync_fetch_and_add(&value->count, 1);
    } else {
        struct insp_value fresh = { .count = 1 };
        bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
        bpf_map_update_elem(&insp_cli_typed, &tgid, &fresh, BPF_NOEXIST);
    }
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_list(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_show(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_dump(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_btfmap(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_hexmap(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_pin(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_link(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_top(void *ctx)
{
    return count_exec();
}

SEC("tracepoint/syscalls/sys_enter_execve")
int insp_cli_bad(void *ctx)
{
    return count_exec();
}

char _license[] SEC("license") = "GPL";
