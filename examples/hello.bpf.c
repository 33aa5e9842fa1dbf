// Seed 001's first program: print a greeting every time a process calls execve.
// Run: bpfhook run examples/hello.bpf.o -- ls   (hello.bpf.o is prebuilt so this needs no clang)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "GPL";

SEC("tracepoint/syscalls/sys_enter_execve")
int hello(void *ctx)
{
    char msg[] = "Hello, eBPF World!";
    bpf_trace_printk(msg, sizeof(msg));
    return 0;
}
