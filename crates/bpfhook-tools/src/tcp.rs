//! TCP tools from `sock:inet_sock_set_state`: `tcpstates` (every state change), `tcplife`
//! (one line per closed connection, bytes and life), `tcpconnect` (active opens); `tcpaccept`
//! (passive opens, from accept's return: the new socket is read through its descriptor); and
//! `tcpretrans` from `tcp:tcp_retransmit_skb`. BCC's columns. Scripts print both address
//! forms; the family picks one here.

use std::io::{self, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bpfhook_lang::output::Value;

use crate::fields::{text, uint};
use crate::histograms::clock_time;
use crate::launch::{self, check_pid, Launch, ToolError};
use crate::report::{Report, ReportOutput, Sink};

const AF_INET6: u64 = 10;

/// The filters the TCP tools share.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `-T` (tcpstates, tcplife: a TIME column) or `-t` (tcpconnect: TIME(s)).
    pub timestamp: bool,
    /// `-p`: only this process (tcplife, tcpconnect).
    pub pid: Option<u32>,
    /// `-L`: only this local port.
    pub local_port: Option<u16>,
    /// `-D` (or tcpconnect's `-P`): only this remote port.
    pub remote_port: Option<u16>,
    /// `-4`: IPv4 only.
    pub ipv4: bool,
    /// `-6`: IPv6 only.
    pub ipv6: bool,
    /// `--json`: one object per line.
    pub json: bool,
}

/// The three tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    States,
    Life,
    Connect,
    Accept,
    Retrans,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::States => "tcpstates",
            Tool::Life => "tcplife",
            Tool::Connect => "tcpconnect",
            Tool::Accept => "tcpaccept",
            Tool::Retrans => "tcpretrans",
        }
    }
}

/// Traces until Ctrl-C (`stop`).
pub fn run(
    tool: Tool,
    options: Options,
    out: Box<dyn Write>,
    stop: Arc<AtomicBool>,
) -> Result<i32, ToolError> {
    if options.ipv4 && options.ipv6 {
        return Err(ToolError::Usage("-4 and -6 are exclusive".into()));
    }
    if let Some(pid) = options.pid {
        check_pid(pid)?;
    }
    let launch = Launch::new(
        tool.name(),
        crate::script(tool.name()).unwrap_or_default().into(),
    );
    let json = options.json;
    let mut output = ReportOutput(Tcp {
        tool,
        options,
        first_ns: None,
        sink: Sink::new(out, json),
    });
    launch::run(launch, stop, &mut output)
}

/// BCC's names for the kernel's TCP states.
fn state_name(state: u64) -> String {
    const NAMES: [&str; 13] = [
        "0",
        "ESTABLISHED",
        "SYN_SENT",
        "SYN_RECV",
        "FIN_WAIT1",
        "FIN_WAIT2",
        "TIME_WAIT",
        "CLOSE",
        "CLOSE_WAIT",
        "LAST_ACK",
        "LISTEN",
        "CLOSING",
        "NEW_SYN_RECV",
    ];
    NAMES
        .get(state as usize)
        .map_or_else(|| state.to_string(), |n| (*n).to_owned())
}

/// One connection's ends, read from a record where `at` is the family's index, followed by
/// the v4 source and destination, the v6 ones, and the two ports.
struct Ends {
    family: u64,
    local: String,
    remote: String,
    lport: u64,
    rport: u64,
}

impl Ends {
    fn read(f: &[Value], at: usize) -> Self {
        let family = uint(f, at);
        let v6 = usize::from(family == AF_INET6) * 2;
        Ends {
            family,
            local: text(f, at + 1 + v6),
            remote: text(f, at + 2 + v6),
            lport: uint(f, at + 5),
            rport: uint(f, at + 6),
        }
    }

    fn ip_version(&self) -> u8 {
        if self.family == AF_INET6 {
            6
        } else {
            4
        }
    }
}

struct Tcp {
    tool: Tool,
    options: Options,
    first_ns: Option<u64>,
    sink: Sink,
}

impl Tcp {
    fn wanted(&self, ends: &Ends, pid: Option<u64>) -> bool {
        let o = &self.options;
        o.local_port.is_none_or(|p| u64::from(p) == ends.lport)
            && o.remote_port.is_none_or(|p| u64::from(p) == ends.rport)
            && (!o.ipv4 || ends.family != AF_INET6)
            && (!o.ipv6 || ends.family == AF_INET6)
            && o.pid
                .zip(pid)
                .is_none_or(|(want, got)| u64::from(want) == got)
    }

    fn time_column(&self) -> String {
        if self.options.timestamp {
            format!("{:<9}", clock_time())
        } else {
            String::new()
        }
    }

    fn states(&mut self, f: &[Value]) -> io::Result<()> {
        let ends = Ends::read(f, 4);
        if !self.wanted(&ends, None) {
            return Ok(());
        }
        let (ns, pid, comm, skaddr) = (uint(f, 0), uint(f, 1), text(f, 2), uint(f, 3));
        let (old, new, since) = (
            state_name(uint(f, 11)),
            state_name(uint(f, 12)),
            uint(f, 13),
        );
        let ms = if since == 0 {
            0.0
        } else {
            ns.saturating_sub(since) as f64 / 1e6
        };
        if self.sink.json {
            return self.sink.json_line(serde_json::json!({
                "skaddr": format!("{skaddr:x}"), "pid": pid, "comm": comm,
                "ip": ends.ip_version(), "laddr": ends.local, "lport": ends.lport,
                "raddr": ends.remote, "rport": ends.rport, "oldstate": old, "newstate": new,
                "ms": ms,
            }));
        }
        let comm: String = comm.chars().take(10).collect();
        let time = self.time_column();
        writeln!(
            self.sink.out,
            "{time}{skaddr:<16x} {pid:<5} {comm:<10} {:<15} {:<5} {:<15} {:<5} {old:<11} -> {new:<11} {ms:.3}",
            ends.local, ends.lport, ends.remote, ends.rport
        )
    }

    fn life(&mut self, f: &[Value]) -> io::Result<()> {
        let ends = Ends::read(f, 2);
        let pid = uint(f, 0);
        if !self.wanted(&ends, Some(pid)) {
            return Ok(());
        }
        let comm = text(f, 1);
        let (tx, rx, ms) = (uint(f, 9), uint(f, 10), uint(f, 11) as f64 / 1e6);
        if self.sink.json {
            return self.sink.json_line(serde_json::json!({
                "pid": pid, "comm": comm, "ip": ends.ip_version(), "laddr": ends.local,
                "lport": ends.lport, "raddr": ends.remote, "rport": ends.rport,
                "tx_bytes": tx, "rx_bytes": rx, "ms": ms,
            }));
        }
        let comm: String = comm.chars().take(10).collect();
        let time = self.time_column();
        writeln!(
            self.sink.out,
            "{time}{pid:<5} {comm:<10} {:<15} {:<5} {:<15} {:<5} {:>5} {:>5} {ms:.2}",
            ends.local,
            ends.lport,
            ends.remote,
            ends.rport,
            tx / 1024,
            rx / 1024
        )
    }

    /// An open (tcpconnect's or tcpaccept's record) the filters keep: its ends, the process,
    /// the seconds since the first one, and the TIME(s) column (empty without `-t`).
    fn open(&mut self, f: &[Value]) -> Option<Open> {
        let ends = Ends::read(f, 3);
        let pid = uint(f, 1);
        if !self.wanted(&ends, Some(pid)) {
            return None;
        }
        let ns = uint(f, 0);
        let first = *self.first_ns.get_or_insert(ns);
        let seconds = ns.saturating_sub(first) as f64 / 1e9;
        let time = if self.options.timestamp {
            format!("{seconds:<9.3}")
        } else {
            String::new()
        };
        Some(Open {
            ends,
            pid,
            comm: text(f, 2),
            seconds,
            time,
        })
    }

    fn connect(&mut self, f: &[Value]) -> io::Result<()> {
        let Some(Open {
            ends,
            pid,
            comm,
            seconds,
            time,
        }) = self.open(f)
        else {
            return Ok(());
        };
        if self.sink.json {
            return self.sink.json_line(serde_json::json!({
                "time": seconds, "pid": pid, "comm": comm, "ip": ends.ip_version(),
                "saddr": ends.local, "daddr": ends.remote, "dport": ends.rport,
            }));
        }
        let comm: String = comm.chars().take(12).collect();
        writeln!(
            self.sink.out,
            "{time}{pid:<6} {comm:<12} {:<2} {:<16} {:<16} {:<6}",
            ends.ip_version(),
            ends.local,
            ends.remote,
            ends.rport
        )
    }

    /// BCC's tcpaccept columns: the accepting process, then the remote end and the local one.
    fn accept(&mut self, f: &[Value]) -> io::Result<()> {
        let Some(Open {
            ends,
            pid,
            comm,
            seconds,
            time,
        }) = self.open(f)
        else {
            return Ok(());
        };
        if self.sink.json {
            return self.sink.json_line(serde_json::json!({
                "time": seconds, "pid": pid, "comm": comm, "ip": ends.ip_version(),
                "raddr": ends.remote, "rport": ends.rport,
                "laddr": ends.local, "lport": ends.lport,
            }));
        }
        let comm: String = comm.chars().take(12).collect();
        writeln!(
            self.sink.out,
            "{time}{pid:<7} {comm:<12} {:<2} {:<16} {:<5} {:<16} {}",
            ends.ip_version(),
            ends.remote,
            ends.rport,
            ends.local,
            ends.lport
        )
    }
}

/// What [`Tcp::open`] gives.
struct Open {
    ends: Ends,
    pid: u64,
    comm: String,
    seconds: f64,
    time: String,
}

impl Tcp {
    fn retrans(&mut self, f: &[Value]) -> io::Result<()> {
        let ends = Ends::read(f, 1);
        if !self.wanted(&ends, None) {
            return Ok(());
        }
        let (pid, state) = (uint(f, 0), state_name(uint(f, 8)));
        if self.sink.json {
            return self.sink.json_line(serde_json::json!({
                "pid": pid, "ip": ends.ip_version(), "laddr": ends.local, "lport": ends.lport,
                "raddr": ends.remote, "rport": ends.rport, "state": state,
            }));
        }
        let local = format!("{}:{}", ends.local, ends.lport);
        let remote = format!("{}:{}", ends.remote, ends.rport);
        writeln!(
            self.sink.out,
            "{:<8} {pid:<6} {:<2} {local:<20} R> {remote:<20} {state}",
            clock_time(),
            ends.ip_version()
        )
    }
}

impl Report for Tcp {
    fn started(&mut self) -> io::Result<()> {
        if self.sink.json {
            return Ok(());
        }
        let header = match self.tool {
            Tool::States => format!(
                "{}{:<16} {:<5} {:<10} {:<15} {:<5} {:<15} {:<5} {:<11} -> {:<11} MS",
                if self.options.timestamp {
                    "TIME     "
                } else {
                    ""
                },
                "SKADDR",
                "C-PID",
                "C-COMM",
                "LADDR",
                "LPORT",
                "RADDR",
                "RPORT",
                "OLDSTATE",
                "NEWSTATE"
            ),
            Tool::Life => format!(
                "{}{:<5} {:<10} {:<15} {:<5} {:<15} {:<5} {:>5} {:>5} MS",
                if self.options.timestamp {
                    "TIME     "
                } else {
                    ""
                },
                "PID",
                "COMM",
                "LADDR",
                "LPORT",
                "RADDR",
                "RPORT",
                "TX_KB",
                "RX_KB"
            ),
            Tool::Retrans => format!(
                "{:<8} {:<6} {:<2} {:<20} T> {:<20} STATE",
                "TIME", "PID", "IP", "LADDR:LPORT", "RADDR:RPORT"
            ),
            Tool::Accept => format!(
                "{}{:<7} {:<12} {:<2} {:<16} {:<5} {:<16} LPORT",
                if self.options.timestamp {
                    "TIME(s)  "
                } else {
                    ""
                },
                "PID",
                "COMM",
                "IP",
                "RADDR",
                "RPORT",
                "LADDR"
            ),
            Tool::Connect => format!(
                "{}{:<6} {:<12} {:<2} {:<16} {:<16} DPORT",
                if self.options.timestamp {
                    "TIME(s)  "
                } else {
                    ""
                },
                "PID",
                "COMM",
                "IP",
                "SADDR",
                "DADDR"
            ),
        };
        writeln!(self.sink.out, "{header}")
    }

    fn record(&mut self, fields: &[Value]) -> io::Result<()> {
        match self.tool {
            Tool::States => self.states(fields),
            Tool::Life => self.life(fields),
            Tool::Connect => self.connect(fields),
            Tool::Accept => self.accept(fields),
            Tool::Retrans => self.retrans(fields),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn state_names() {
        assert_eq!(super::state_name(1), "ESTABLISHED");
        assert_eq!(super::state_name(7), "CLOSE");
        assert_eq!(super::state_name(99), "99");
    }
}
