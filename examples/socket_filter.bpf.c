// Seed 004's socket filter, ebpf-manager section name `socket/sock_filter`.
// Run: bpfhook run examples/socket_filter.bpf.o --iface lo -- ping -c 2 127.0.0.1
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "GPL";

SEC("socket/sock_filter")
int socket_sock_filter(void *ctx)
{
    bpf_printk("new packet received\n");
    return 0;
}
