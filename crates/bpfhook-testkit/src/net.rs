//! A veth pair with one end in this (root) namespace and the peer in a fresh network namespace.

use std::process::Command;

use crate::{sh, unique_name};

/// `host` (10.199.x.y+1/30) in the root namespace ↔ `peer` (10.199.x.y+2/30) inside `netns`.
/// Dropping it deletes the namespace, which deletes the pair.
pub struct VethPair {
    pub host: String,
    pub peer: String,
    pub netns: String,
    pub host_ip: String,
    pub peer_ip: String,
}

impl VethPair {
    pub fn new() -> Self {
        let id = unique_name("");
        // Interface names are limited to 15 bytes.
        let host = format!("bh{id}a");
        let peer = format!("bh{id}b");
        let netns = format!("bhns{id}");
        // A /30 per pair, derived from the unique id so parallel pairs do not share a route.
        let subnet = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            id.hash(&mut h);
            h.finish() % 16_000
        };
        let (third, fourth) = (subnet / 64, (subnet % 64) * 4);
        let pair = Self {
            host_ip: format!("10.199.{third}.{}", fourth + 1),
            peer_ip: format!("10.199.{third}.{}", fourth + 2),
            host,
            peer,
            netns,
        };
        sh("ip", &["netns", "add", &pair.netns]);
        // From here on, Drop cleans up whatever fails next.
        sh(
            "ip",
            &[
                "link", "add", &pair.host, "type", "veth", "peer", "name", &pair.peer,
            ],
        );
        sh("ip", &["link", "set", &pair.peer, "netns", &pair.netns]);
        sh(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/30", pair.host_ip),
                "dev",
                &pair.host,
            ],
        );
        sh("ip", &["link", "set", &pair.host, "up"]);
        pair.in_netns(&[
            "ip",
            "addr",
            "add",
            &format!("{}/30", pair.peer_ip),
            "dev",
            &pair.peer,
        ]);
        pair.in_netns(&["ip", "link", "set", &pair.peer, "up"]);
        pair.in_netns(&["ip", "link", "set", "lo", "up"]);
        pair
    }

    /// Runs a command inside the namespace (test setup: panics on failure).
    pub fn in_netns(&self, command: &[&str]) -> String {
        let mut args = vec!["netns", "exec", &self.netns];
        args.extend_from_slice(command);
        sh("ip", &args)
    }

    /// Sends `count` UDP datagrams from the peer namespace to the host end.
    pub fn udp_to_host(&self, port: u16, count: u32) {
        let script = format!(
            "for i in $(seq {count}); do echo ping > /dev/udp/{}/{port}; done",
            self.host_ip
        );
        self.in_netns(&["bash", "-c", &script]);
    }

    /// Sends `count` UDP datagrams from the host end to the peer.
    pub fn udp_to_peer(&self, port: u16, count: u32) {
        let socket =
            std::net::UdpSocket::bind((self.host_ip.as_str(), 0)).expect("binding UDP on the veth");
        for _ in 0..count {
            socket
                .send_to(b"ping", (self.peer_ip.as_str(), port))
                .expect("sending UDP to the peer");
        }
    }
}

impl Default for VethPair {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host])
            .output();
    }
}
