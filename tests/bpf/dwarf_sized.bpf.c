/* A ring buffer record with no name to look it up by (not `struct event`, not in .BTF): the
 * reader recognises it as the only struct of the size bpf_ringbuf_reserve is given. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct exec_note {
    __u32 pid;
    __u32 marker;
    char comm[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} note_ring SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int note_exec(void *ctx)
{
    struct exec_note *n = bpf_ringbuf_reserve(&note_ring, sizeof(*n), 0);
    if (!n)
        return 0;
    n->pid = bpf_get_current_pid_tgid() >> 32;
    n->marker = 0xfeed;
    bpf_get_current_comm(n->comm, sizeof(n->comm));
    bpf_ringbuf_submit(n, 0);
    return 0;
}

char _license[] SEC("license") = "GPL";
