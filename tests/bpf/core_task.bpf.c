/* CO-RE against the generated vmlinux.h: read the current task's tgid and comm through
 * BPF_CORE_READ / bpf_core_read_str and print them. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char _license[] SEC("license") = "GPL";

SEC("tracepoint/syscalls/sys_enter_execve")
int core_task(void *ctx)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    int tgid = BPF_CORE_READ(task, tgid);
    char comm[16];
    bpf_core_read_str(comm, sizeof(comm), &task->comm);
    bpf_printk("core tgid=%d comm=%s", tgid, comm);
    return 0;
}
