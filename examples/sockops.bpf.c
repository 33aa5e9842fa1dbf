// Seed 004's sockops program: prints every socket operation of the cgroup's TCP sockets.
// Run: bpfhook run examples/sockops.bpf.o [--cgroup /sys/fs/cgroup/unified] -- curl -s http://127.0.0.1:8000/
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("sockops")
int bpf_sockops(struct bpf_sock_ops *skops)
{
    switch (skops->op) {
    default:
        bpf_printk("eBPF sockops : %d \n", skops->op);
    }
    return 0;
}

char _license[] SEC("license") = "GPL";
__u32 _version SEC("version") = 0xFFFFFFFE;
