/* A libbpf-bootstrap-style exec tracer whose record type is only in the object's DWARF: `struct
 * dwarf_event` (dwarf_event.h) is used through the reserved pointer alone, and nothing global
 * names it, so clang's .BTF lacks it. `bpfhook run` must still print the records typed. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "dwarf_event.h"

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024);
} dwarf_ring SEC(".maps");

__u64 dwarf_next_seq = 0;

struct sys_enter_execve {
    __u64 common;
    __s32 syscall_nr;
    __u32 pad;
    const char *filename;
};

SEC("tracepoint/syscalls/sys_enter_execve")
int dwarf_exec(struct sys_enter_execve *ctx)
{
    struct event *e = bpf_ringbuf_reserve(&dwarf_ring, sizeof(*e), 0);
    if (!e)
        return 0;
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->kind = DWARF_EVENT_EXEC;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_probe_read_user_str(e->filename, sizeof(e->filename), ctx->filename);
    e->flags = 5;
    e->level = 17;
    e->delta = -2;
    e->seq = __sync_fetch_and_add(&dwarf_next_seq, 1);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            e->grid[i][j] = i * 3 + j;
    e->word = 0x01020304;
    e->pair.lo = -1;
    e->pair.hi = 200;
    e->text = 0;
    bpf_ringbuf_submit(e, 0);
    return 0;
}

char _license[] SEC("license") = "GPL";
