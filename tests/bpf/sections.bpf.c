/* One trivial program per section name bpfhook accepts, libbpf and ebpf-manager/BCC dialects.
 * The `tc` program carries a CO-RE relocation, which the loader finds by section name: it
 * proves renamed sections keep their BTF.ext records. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char _license[] SEC("license") = "GPL";

/* 1: the one return value every hook here accepts (recvmsg4, getsockname4, getpeername4 need it). */
#define PROG(sec, name) SEC(sec) int name(void *ctx) { return 1; }

struct task_struct {
    int pid;
} __attribute__((preserve_access_index));

SEC("tc")
int s_tc(struct __sk_buff *skb)
{
    struct task_struct *t = 0;
    return bpf_core_field_exists(t->pid) ? 0 : 2;
}

PROG("tracepoint/syscalls/sys_enter_execve", s_tracepoint)
PROG("tp/syscalls/sys_enter_openat", s_tp)
PROG("raw_tracepoint/sys_enter", s_raw_tracepoint)
PROG("raw_tp/sys_exit", s_raw_tp)
PROG("kprobe/do_sys_openat2", s_kprobe)
PROG("kretprobe/do_sys_openat2", s_kretprobe)
PROG("uprobe/readline", s_uprobe)
PROG("uretprobe/readline", s_uretprobe)
PROG("uprobe//bin/bash:readline", s_uprobe_path)
PROG("uprobe/libc.so.6:malloc+0x4", s_uprobe_off)
PROG("fentry/do_sys_openat2", s_fentry)
PROG("fexit/do_sys_openat2", s_fexit)
PROG("lsm/file_open", s_lsm)
PROG("xdp", s_xdp)
PROG("xdp.frags", s_xdp_frags)
PROG("tc/ingress", s_tc_ingress)
PROG("tc/egress", s_tc_egress)
PROG("tcx/ingress", s_tcx_ingress)
PROG("tcx/egress", s_tcx_egress)
PROG("classifier", s_classifier)
PROG("classifier/ingress", s_classifier_in)
PROG("classifier/egress", s_classifier_eg)
PROG("socket", s_socket)
PROG("socket/ANY", s_socket_any)
PROG("sockops", s_sockops)
PROG("cgroup_skb/ingress", s_cgskb_in)
PROG("cgroup_skb/egress", s_cgskb_eg)
PROG("cgroup/sock_create", s_cg_sock_create)
PROG("cgroup/sock_release", s_cg_sock_release)
PROG("cgroup/post_bind4", s_cg_post_bind4)
PROG("cgroup/bind4", s_cg_bind4)
PROG("cgroup/connect4", s_cg_connect4)
PROG("cgroup/connect6", s_cg_connect6)
PROG("cgroup/sendmsg4", s_cg_sendmsg4)
PROG("cgroup/recvmsg4", s_cg_recvmsg4)
PROG("cgroup/getsockname4", s_cg_getsockname4)
PROG("cgroup/getpeername4", s_cg_getpeername4)
PROG("cgroup/sysctl", s_cg_sysctl)
PROG("cgroup/getsockopt", s_cg_getsockopt)
PROG("cgroup/setsockopt", s_cg_setsockopt)
PROG("cgroup/dev", s_cg_dev)
PROG("perf_event", s_perf_event)
PROG("sk_msg", s_sk_msg)
PROG("sk_skb/stream_parser", s_sk_skb_parser)
PROG("sk_skb/stream_verdict", s_sk_skb_verdict)
