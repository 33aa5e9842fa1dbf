/* The ebpf-manager spelling `xdp/ingress`, which aya rejects until bpfhook renames it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "GPL";

SEC("xdp/ingress")
int xdp_ingress_pass(struct xdp_md *ctx)
{
    return XDP_PASS;
}
