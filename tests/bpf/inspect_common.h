/* Shared by the inspect fixtures: a BTF-typed hash, a per-CPU array and a legacy-section map
 * (which gets no BTF key/value types), named MAP(x) so the lib and cli fixtures, whose tests run
 * in parallel, never share a map name; and the exec counter their programs run. */
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
} MAP(typed) SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} MAP(pcpu) SEC(".maps");

/* The pre-BTF map definition, laid out as the loaders read it. */
struct legacy_map_def {
    unsigned int type, key_size, value_size, max_entries, map_flags;
};
struct legacy_map_def MAP(raw) SEC("maps") = {
    .type = BPF_MAP_TYPE_HASH,
    .key_size = 8,
    .value_size = 8,
    .max_entries = 16,
};

static __always_inline int count_exec(void)
{
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    struct insp_value *value = bpf_map_lookup_elem(&MAP(typed), &tgid);
    if (value) {
        __sync_fetch_and_add(&value->count, 1);
    } else {
        struct insp_value fresh = { .count = 1 };
        bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
        bpf_map_update_elem(&MAP(typed), &tgid, &fresh, BPF_NOEXIST);
    }
    return 0;
}

