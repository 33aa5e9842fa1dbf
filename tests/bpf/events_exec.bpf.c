/* Exec events, one record per execve, through a ring buffer and a perf event array. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
    __u32 pid;
    __u32 uid;
    char comm[16];
    char filename[64];
    __u64 seq;
};

/* clang writes BTF only for types reachable from globals and signatures: this pointer puts
 * `struct event` in the object's BTF, so readers can decode records (libbpf-bootstrap's idiom). */
struct event *event_type_for_readers;

/* Larger than any record: `--event-type too_big` must mark records undecodable, not misread them. */
struct too_big {
    char pad[4096];
};
struct too_big *too_big_reference;

/* The syscalls/sys_enter_execve tracepoint's record (see its `format` file). */
struct sys_enter_execve {
    __u64 common;
    __s32 syscall_nr;
    __u32 pad;
    const char *filename;
    const char *const *argv;
    const char *const *envp;
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024);
} exec_ring SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, sizeof(__u32));
} exec_perf SEC(".maps");

/* [0] records produced, [1] ring reservations that failed, [2] perf outputs that failed. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 3);
    __type(key, __u32);
    __type(value, __u64);
} exec_stats SEC(".maps");

__u64 next_seq = 0;

static __always_inline void count(__u32 key)
{
    __u64 *value = bpf_map_lookup_elem(&exec_stats, &key);
    if (value)
        __sync_fetch_and_add(value, 1);
}

static __always_inline void fill(struct event *e, struct sys_enter_execve *ctx)
{
    __u64 uid_gid = bpf_get_current_uid_gid();
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->uid = (__u32)uid_gid;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_probe_read_user_str(e->filename, sizeof(e->filename), ctx->filename);
    e->seq = __sync_fetch_and_add(&next_seq, 1);
}

SEC("tracepoint/syscalls/sys_enter_execve")
int exec_ringbuf(struct sys_enter_execve *ctx)
{
    count(0);
    struct event *e = bpf_ringbuf_reserve(&exec_ring, sizeof(*e), 0);
    if (!e) {
        count(1);
        return 0;
    }
    fill(e, ctx);
    bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int exec_perfbuf(struct sys_enter_execve *ctx)
{
    struct event e = {};
    count(0);
    fill(&e, ctx);
    if (bpf_perf_event_output(ctx, &exec_perf, BPF_F_CURRENT_CPU, &e, sizeof(e)) < 0)
        count(2);
    return 0;
}

char _license[] SEC("license") = "GPL";
