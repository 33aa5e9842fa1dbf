// Seed 004's XDP program (`xdp/ingress`, which aya alone would reject).
// Run: bpfhook run examples/xdp.bpf.o --iface eth0 [--xdp-mode generic]
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "GPL";

SEC("xdp/ingress")
int xdp_ingress_func(struct xdp_md *ctx)
{
    bpf_printk("new packet captured (XDP)\n");
    return XDP_PASS;
}
