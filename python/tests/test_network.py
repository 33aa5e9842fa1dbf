"""XDP and socket filters on a veth pair whose far end lives in a network namespace made
for the test; the traffic is UDP to IPv6 link-local multicast inside that pair only."""

import socket
import subprocess
import sys
import time

import pytest

from bpfhook.bcc import BPF
from conftest import unique

COUNTER = r"""
BPF_ARRAY(packets, u64, 1);
int count_packets(struct xdp_md *ctx) {
    packets.increment(0);
    return XDP_PASS;
}
"""


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


@pytest.fixture
def veth():
    """(local interface, namespace, far interface), removed afterwards."""
    tag = unique("")[-8:]
    namespace, local, far = "bhpy" + tag, "bhpa" + tag, "bhpb" + tag
    ip("netns", "add", namespace)
    try:
        ip("link", "add", local, "type", "veth", "peer", "name", far, "netns", namespace)
        # No duplicate address detection: the link-local address is usable at once.
        subprocess.run(["ip", "netns", "exec", namespace, "sysctl", "-qw",
                        "net.ipv6.conf.%s.accept_dad=0" % far], check=True)
        ip("link", "set", local, "up")
        ip("-n", namespace, "link", "set", far, "up")
        yield local, namespace, far
    finally:
        ip("link", "del", local, check=False)
        ip("netns", "del", namespace, check=False)


def send_from_far_end(namespace, far, count=5):
    """UDP datagrams to the all-nodes link-local multicast group, out of the far end."""
    sender = ("import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); "
              "[s.sendto(b'bpfhook', ('ff02::1%%%s', 9)) for _ in range(%d)]" % (far, count))
    subprocess.run(["ip", "netns", "exec", namespace, sys.executable, "-c", sender], check=True)
    time.sleep(0.05)


def test_xdp_counts_packets_and_remove_xdp_detaches(veth):
    local, namespace, far = veth
    with BPF(text=COUNTER) as b:
        fn = b.load_func("count_packets", BPF.XDP)
        b.attach_xdp(local, fn, BPF.XDP_FLAGS_DRV_MODE)
        assert "xdp " in ip("link", "show", local).stdout or "xdpdrv" in ip("link", "show", local).stdout
        send_from_far_end(namespace, far)
        assert b["packets"][0].value >= 5
        b.remove_xdp(local, 0)
        assert "xdp" not in ip("link", "show", local).stdout
        b.attach_xdp(local, fn, BPF.XDP_FLAGS_SKB_MODE)
        assert "xdpgeneric" in ip("link", "show", local).stdout
        b.remove_xdp(local, 0)
        before = b["packets"][0].value
        send_from_far_end(namespace, far, count=2)
        assert b["packets"][0].value == before


def test_xdp_on_a_missing_interface_is_named():
    with BPF(text=COUNTER) as b:
        fn = b.load_func("count_packets", BPF.XDP)
        with pytest.raises(Exception, match="bhpy-no-such"):
            b.attach_xdp("bhpy-no-such", fn, 0)


def test_raw_socket_filter_sees_the_interface_traffic(veth):
    local, namespace, far = veth
    text = r"""
BPF_ARRAY(seen, u64, 1);
int count_skb(struct __sk_buff *skb) {
    seen.increment(0);
    return 0;
}
"""
    with BPF(text=text) as b:
        fn = b.load_func("count_skb", BPF.SOCKET_FILTER)
        BPF.attach_raw_socket(fn, local)
        send_from_far_end(namespace, far)
        assert b["seen"][0].value >= 5


def test_raw_socket_keeps_packets_for_fn_sock(veth):
    # A filter that keeps every packet (-1): BCC scripts read them from fn.sock.
    local, namespace, far = veth
    text = r"""
int keep(struct __sk_buff *skb) {
    return -1;
}
"""
    with BPF(text=text) as b:
        fn = b.load_func("keep", BPF.SOCKET_FILTER)
        BPF.attach_raw_socket(fn, local)
        assert isinstance(fn.sock, int) and fn.sock >= 0
        reader = socket.fromfd(fn.sock, socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        reader.settimeout(5)
        send_from_far_end(namespace, far)
        frame = reader.recv(2048)
        reader.close()
        assert len(frame) >= 14  # at least an Ethernet header
