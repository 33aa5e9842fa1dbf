/* Two sections that both load as `xdp`: the loader cannot tell them apart, a clear error. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "GPL";

SEC("xdp")
int xdp_one(struct xdp_md *ctx) { return XDP_PASS; }

SEC("xdp/ingress")
int xdp_two(struct xdp_md *ctx) { return XDP_PASS; }
