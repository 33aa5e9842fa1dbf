//! `bpfhook trace` with raw tracepoints loaded as BTF-typed tracing programs (tp_btf), and
//! the helpers that need their typed arguments: `skboutput()` writing real packets to a pcap
//! file, `socket_cookie()` on a real connection. Each test skips where the kernel cannot load
//! tp_btf (the scripts then fail with the error these tests also check).

mod trace_support;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

use bpfhook::kernel::features::{self, Feature};
use bpfhook_testkit::{program_loaded, shell_script, TempPath, VethPair};
use trace_support::trace;

fn tp_btf_loads() -> bool {
    match features::check(Feature::BtfTracepoint) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("skipped: {e}");
            false
        }
    }
}

#[test]
fn raw_tracepoints_load_as_tracing_programs_and_fire() {
    if !tp_btf_loads() {
        return;
    }
    // The command lists the programs while the probe is attached; $PPID is bpfhook.
    let (_script, command) = shell_script(&format!(
        "{} prog list | grep -A1 \"name bt${{PPID}}_0 \"; sleep 0.2",
        env!("CARGO_BIN_EXE_bpfhook")
    ));
    let (out, err, output) = trace(&[
        "-e",
        "rawtracepoint:sched_switch { @switches = count(); @next = args.next->pid > 0; }",
        "-c",
        &command,
    ]);
    assert!(output.status.success(), "{err}");
    assert!(
        out.lines()
            .next()
            .unwrap_or_default()
            .contains(": tracing "),
        "a BPF_PROG_TYPE_TRACING program: {out}"
    );
    let switches: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("@switches: "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a count in {out}"));
    assert!(switches > 0, "{out}");
    assert!(out.contains("@next: true"), "{out}");
}

#[test]
fn skboutput_writes_received_packets_to_a_pcap_file() {
    if !tp_btf_loads() {
        return;
    }
    let pair = VethPair::new();
    let ifindex = std::fs::read_to_string(format!("/sys/class/net/{}/ifindex", pair.host))
        .expect("the host end's ifindex");
    let dir = TempPath::dir("bpfhook-pcap");
    let pcap = dir.join("received.pcap");
    // On receive the skb's data starts at the IP header (the Ethernet header is pulled).
    let program = format!(
        r#"rawtracepoint:netif_receive_skb /args.skb->dev->ifindex == {}/ {{ @ret[skboutput("{}", args.skb, args.skb->len, 0)] = count(); }}"#,
        ifindex.trim(),
        pcap.display()
    );
    let (_script, command) = shell_script(&format!(
        "ip netns exec {} bash -c 'for i in 1 2 3 4 5; do echo ping > /dev/udp/{}/9; done'; sleep 0.2",
        pair.netns, pair.host_ip
    ));
    let (out, err, output) = trace(&["-e", &program, "-c", &command]);
    assert!(output.status.success(), "{err}");
    assert!(out.contains("@ret[0]: "), "skb_output returned 0: {out}");

    let bytes = std::fs::read(&pcap).expect("the pcap file");
    assert_eq!(
        &bytes[..4],
        &0xa1b2_c3d4u32.to_le_bytes(),
        "classic pcap magic"
    );
    assert_eq!(&bytes[4..8], &[2, 0, 4, 0], "version 2.4");
    assert_eq!(&bytes[20..24], &101u32.to_le_bytes(), "LINKTYPE_RAW");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut udp = 0;
    let mut rest = &bytes[24..];
    while !rest.is_empty() {
        let word = |i: usize| u32::from_le_bytes(rest[i..i + 4].try_into().unwrap());
        let (seconds, captured, length) = (u64::from(word(0)), word(8) as usize, word(12));
        assert_eq!(captured as u32, length, "whole packets");
        assert!(now.abs_diff(seconds) < 600, "wall-clock time: {seconds}");
        let packet = &rest[16..16 + captured];
        // IPv4 (ARP may come first: the peer asks for the host's address).
        let destination: Vec<String> = packet[16..20].iter().map(u8::to_string).collect();
        if packet[0] >> 4 == 4 && packet[9] == 17 && destination.join(".") == pair.host_ip {
            assert_eq!(
                &packet[packet.len() - 5..],
                b"ping\n",
                "the datagram's payload"
            );
            udp += 1;
        }
        rest = &rest[16 + captured..];
    }
    assert_eq!(udp, 5, "every datagram captured: {out}");
}

#[test]
fn socket_cookie_is_the_cookie_the_socket_reports() {
    if !tp_btf_loads() {
        return;
    }
    // newstate 2 (TCP_SYN_SENT): this process's connect.
    let program = format!(
        "rawtracepoint:inet_sock_set_state /pid == {} && args.newstate == 2/ {{ printf(\"cookie %llu\\n\", socket_cookie(args.sk)); exit(); }}",
        std::process::id()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_bpfhook"))
        .args(["trace", "-e", &program])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning bpfhook");
    let pid = child.id();
    // Notices go to stderr: connect once the probe is attached.
    let mut notices = BufReader::new(child.stderr.take().unwrap()).lines();
    let attached = notices.next().and_then(Result::ok).unwrap_or_default();
    if attached != "Attached 1 probe" {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{attached}");
    }
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let line = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(child.wait().unwrap().success());
    assert!(!program_loaded(&format!("bt{pid}_0")), "left loaded");

    let mut cookie = 0u64;
    let mut size = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: SO_COOKIE writes a u64 into `cookie`, `size` says how large it is.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut size,
        )
    };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    assert_ne!(cookie, 0);
    assert_eq!(line, format!("cookie {cookie}"));
}

#[test]
fn misused_network_helpers_are_clear_errors() {
    if !tp_btf_loads() {
        return;
    }
    let cases = [
        (
            r#"rawtracepoint:consume_skb { skboutput("x.pcap", arg0, 1, 0); }"#,
            "skboutput() only supports 'struct sk_buff *' as the argument (uint64 provided)",
        ),
        (
            r#"rawtracepoint:consume_skb { $s = (struct sk_buff *)arg0; skboutput("x.pcap", $s, 1, 0); }"#,
            "skboutput() takes one of the probe's own arguments (args.NAME or argN)",
        ),
        (
            r#"rawtracepoint:consume_skb { skboutput("x.pcap", args.skb, 1, pid); }"#,
            "skboutput()'s offset must be a non-negative integer constant",
        ),
        (
            r#"tracepoint:skb:consume_skb { skboutput("x.pcap", (struct sk_buff *)args.skbaddr, 1, 0); }"#,
            "skboutput() can only be used in fentry/fexit and rawtracepoint probes",
        ),
        (
            "rawtracepoint:tcp_probe { socket_cookie(args.skb); }",
            "socket_cookie() only supports 'struct sock *' as the argument (struct sk_buff * provided)",
        ),
        (
            "rawtracepoint:tcp_probe { socket_cookie((struct sock *)arg1); }",
            "socket_cookie(): this argument of the probe is a 'struct sk_buff *', not a 'struct sock *'",
        ),
        (
            "rawtracepoint:tcp_probe { socket_cookie((struct sock *)arg5); }",
            "socket_cookie(): the probe has no arg5",
        ),
    ];
    for (program, message) in cases {
        let (_, err, output) = trace(&["-e", program]);
        assert!(!output.status.success(), "{program}");
        assert!(err.contains(message), "{program}:\n{err}");
        assert!(err.contains("~~"), "with a caret: {err}");
    }
}
