//! The kernel's enum values under the names bpftool (libbpf) gives them, so output reads the
//! same in both tools. Values this table does not know print as `type N`-style numbers, so a
//! newer kernel never breaks the listing.

const PROG_TYPES: &[&str] = &[
    "unspec",
    "socket_filter",
    "kprobe",
    "sched_cls",
    "sched_act",
    "tracepoint",
    "xdp",
    "perf_event",
    "cgroup_skb",
    "cgroup_sock",
    "lwt_in",
    "lwt_out",
    "lwt_xmit",
    "sock_ops",
    "sk_skb",
    "cgroup_device",
    "sk_msg",
    "raw_tracepoint",
    "cgroup_sock_addr",
    "lwt_seg6local",
    "lirc_mode2",
    "sk_reuseport",
    "flow_dissector",
    "cgroup_sysctl",
    "raw_tracepoint_writable",
    "cgroup_sockopt",
    "tracing",
    "struct_ops",
    "ext",
    "lsm",
    "sk_lookup",
    "syscall",
    "netfilter",
];

const MAP_TYPES: &[&str] = &[
    "unspec",
    "hash",
    "array",
    "prog_array",
    "perf_event_array",
    "percpu_hash",
    "percpu_array",
    "stack_trace",
    "cgroup_array",
    "lru_hash",
    "lru_percpu_hash",
    "lpm_trie",
    "array_of_maps",
    "hash_of_maps",
    "devmap",
    "sockmap",
    "cpumap",
    "xskmap",
    "sockhash",
    "cgroup_storage",
    "reuseport_sockarray",
    "percpu_cgroup_storage",
    "queue",
    "stack",
    "sk_storage",
    "devmap_hash",
    "struct_ops",
    "ringbuf",
    "inode_storage",
    "task_storage",
    "bloom_filter",
    "user_ringbuf",
    "cgrp_storage",
    "arena",
];

const LINK_TYPES: &[&str] = &[
    "unspec",
    "raw_tracepoint",
    "tracing",
    "cgroup",
    "iter",
    "netns",
    "xdp",
    "perf_event",
    "kprobe_multi",
    "struct_ops",
    "netfilter",
    "tcx",
    "uprobe_multi",
    "netkit",
    "sockmap",
];

const ATTACH_TYPES: &[&str] = &[
    "cgroup_inet_ingress",
    "cgroup_inet_egress",
    "cgroup_inet_sock_create",
    "cgroup_sock_ops",
    "sk_skb_stream_parser",
    "sk_skb_stream_verdict",
    "cgroup_device",
    "sk_msg_verdict",
    "cgroup_inet4_bind",
    "cgroup_inet6_bind",
    "cgroup_inet4_connect",
    "cgroup_inet6_connect",
    "cgroup_inet4_post_bind",
    "cgroup_inet6_post_bind",
    "cgroup_udp4_sendmsg",
    "cgroup_udp6_sendmsg",
    "lirc_mode2",
    "flow_dissector",
    "cgroup_sysctl",
    "cgroup_udp4_recvmsg",
    "cgroup_udp6_recvmsg",
    "cgroup_getsockopt",
    "cgroup_setsockopt",
    "trace_raw_tp",
    "trace_fentry",
    "trace_fexit",
    "modify_return",
    "lsm_mac",
    "trace_iter",
    "cgroup_inet4_getpeername",
    "cgroup_inet6_getpeername",
    "cgroup_inet4_getsockname",
    "cgroup_inet6_getsockname",
    "xdp_devmap",
    "cgroup_inet_sock_release",
    "xdp_cpumap",
    "sk_lookup",
    "xdp",
    "sk_skb_verdict",
    "sk_reuseport_select",
    "sk_reuseport_select_or_migrate",
    "perf_event",
    "trace_kprobe_multi",
    "lsm_cgroup",
    "struct_ops",
    "netfilter",
    "tcx_ingress",
    "tcx_egress",
    "trace_uprobe_multi",
    "cgroup_unix_connect",
    "cgroup_unix_sendmsg",
    "cgroup_unix_recvmsg",
    "cgroup_unix_getpeername",
    "cgroup_unix_getsockname",
    "netkit_primary",
    "netkit_peer",
    "trace_kprobe_session",
];

fn lookup(table: &[&str], value: u32) -> String {
    table
        .get(value as usize)
        .map_or_else(|| format!("type {value}"), |name| (*name).to_owned())
}

/// `enum bpf_prog_type` → `tracepoint`, `xdp`, …
pub fn prog_type(value: u32) -> String {
    lookup(PROG_TYPES, value)
}

/// `enum bpf_map_type` → `hash`, `percpu_array`, …
/// `hash` → 1.
pub fn map_type_from_name(name: &str) -> Option<u32> {
    MAP_TYPES
        .iter()
        .position(|candidate| *candidate == name)
        .and_then(|index| u32::try_from(index).ok())
}

/// 1 → `hash`; None for values this table does not know.
pub fn map_type_name(value: u32) -> Option<&'static str> {
    MAP_TYPES.get(usize::try_from(value).ok()?).copied()
}

pub fn map_type(value: u32) -> String {
    lookup(MAP_TYPES, value)
}

/// `enum bpf_link_type` → `perf_event`, `tcx`, …
pub fn link_type(value: u32) -> String {
    lookup(LINK_TYPES, value)
}

/// `enum bpf_attach_type` → `cgroup_inet_ingress`, `tcx_egress`, …
pub fn attach_type(value: u32) -> String {
    lookup(ATTACH_TYPES, value)
}

/// `enum bpf_perf_event_type` → what a perf_event link is attached to.
pub fn perf_event_type(value: u32) -> &'static str {
    match value {
        1 => "uprobe",
        2 => "uretprobe",
        3 => "kprobe",
        4 => "kretprobe",
        5 => "tracepoint",
        6 => "event",
        _ => "unknown",
    }
}

/// Netfilter protocol family (`NFPROTO_*`).
pub fn nf_family(value: u32) -> String {
    match value {
        2 => "ipv4".to_owned(),
        10 => "ipv6".to_owned(),
        other => format!("pf {other}"),
    }
}

/// Netfilter hook number (`NF_INET_*`).
pub fn nf_hook(value: u32) -> String {
    match value {
        0 => "prerouting".to_owned(),
        1 => "input".to_owned(),
        2 => "forward".to_owned(),
        3 => "output".to_owned(),
        4 => "postrouting".to_owned(),
        other => format!("hook {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_kernel_numbering() {
        assert_eq!(prog_type(5), "tracepoint");
        assert_eq!(prog_type(32), "netfilter");
        assert_eq!(prog_type(999), "type 999");
        assert_eq!(map_type(6), "percpu_array");
        assert_eq!(map_type(27), "ringbuf");
        assert_eq!(link_type(7), "perf_event");
        assert_eq!(link_type(11), "tcx");
        assert_eq!(attach_type(37), "xdp");
        assert_eq!(attach_type(46), "tcx_ingress");
    }
}
