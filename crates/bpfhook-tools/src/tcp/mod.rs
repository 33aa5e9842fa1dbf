//! TCP tools from `sock:inet_sock_set_state`: `tcpstates` (every state change), `tcplife`
//! (one line per closed connection, bytes and life), `tcpconnect` (active opens); `tcpaccept`
//! (passive opens, from accept's return: the new socket is read through its descriptor); and
//! `tcpretrans` from `tcp:tcp_retransmit_skb`. BCC's columns. Scripts print both address
//! forms; the family picks one here.

mod columns;
mod counts;

use std::io::{self, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bpfhook_lang::output::Value;

pub use columns::Layout;
use columns::{header, render, Column, Fit, TimeColumns};
use counts::{Counts, Flow};

use crate::fields::{text, uint};
use crate::histograms::clock_time;
use crate::launch::{self, check_pid, Launch, ToolError};
use crate::report::{Report, ReportOutput, Sink};

const AF_INET6: u64 = 10;

/// The options of the TCP tools (each takes the ones BCC gives it).
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `-T`: a TIME column (the clock).
    pub clock: bool,
    /// `-t`: a TIME(s) column, seconds since the first event.
    pub seconds: bool,
    /// `-w` or `-s` (tcpstates, tcplife).
    pub layout: Layout,
    /// `-p`: only this process (tcplife, tcpconnect, tcpaccept).
    pub pid: Option<u32>,
    /// `-u`: only connects of this user id (tcpconnect).
    pub uid: Option<u32>,
    /// `-U`: a UID column (tcpconnect).
    pub print_uid: bool,
    /// `-L` of tcpconnect: an LPORT column.
    pub print_local_port: bool,
    /// `-c`: count per flow, printed at the end, instead of a line each (tcpconnect,
    /// tcpretrans).
    pub count: bool,
    /// `-L` (tcpaccept's `-P`): only these local ports (none: any).
    pub local_ports: Vec<u16>,
    /// `-D` (tcpconnect's `-P`): only these remote ports (none: any).
    pub remote_ports: Vec<u16>,
    /// `-4`: IPv4 only.
    pub ipv4: bool,
    /// `-6`: IPv6 only.
    pub ipv6: bool,
    /// `--json`: one object per line.
    pub json: bool,
}

/// The five tools.
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
    if options.layout != Layout::Narrow && options.json {
        return Err(ToolError::Usage(
            "-w and -s print text: not with --json".into(),
        ));
    }
    if let Some(pid) = options.pid {
        check_pid(pid)?;
    }
    let launch = launch(tool, &options);
    let json = options.json;
    let time = TimeColumns {
        clock: options.clock,
        seconds: options.seconds,
        precise: matches!(tool, Tool::States | Tool::Life),
    };
    let mut output = ReportOutput(Tcp {
        tool,
        options,
        time,
        first_ns: None,
        counts: Counts::default(),
        sink: Sink::new(out, json),
    });
    launch::run(launch, stop, &mut output)
}

/// The tool's script and its parameters.
fn launch(tool: Tool, options: &Options) -> Launch {
    let mut launch = Launch::new(
        tool.name(),
        crate::script(tool.name()).unwrap_or_default().into(),
    );
    if tool == Tool::Connect && options.print_local_port {
        launch.params.push("1".into());
    }
    launch
}

/// tcpstates' columns.
const STATES: &[Column] = &[
    Column::new("SKADDR", Fit::Left(16), Fit::Left(16)),
    Column::new("C-PID", Fit::Left(5), Fit::Left(5)),
    Column::new("C-COMM", Fit::Cut(10), Fit::Cut(16)),
    Column::new("IP", Fit::Absent, Fit::Left(2)),
    Column::new("LADDR", Fit::Left(15), Fit::Left(39)),
    Column::new("LPORT", Fit::Left(5), Fit::Left(5)),
    Column::new("RADDR", Fit::Left(15), Fit::Left(39)),
    Column::new("RPORT", Fit::Left(5), Fit::Left(5)),
    Column::new("OLDSTATE", Fit::Left(11), Fit::Left(11)),
    Column {
        csv: false,
        ..Column::new("->", Fit::Bare, Fit::Bare)
    },
    Column::new("NEWSTATE", Fit::Left(11), Fit::Left(11)),
    Column::new("MS", Fit::Bare, Fit::Bare),
];

/// tcplife's columns.
const LIFE: &[Column] = &[
    Column::new("PID", Fit::Left(5), Fit::Left(5)),
    Column::new("COMM", Fit::Cut(10), Fit::Cut(16)),
    Column::new("IP", Fit::Absent, Fit::Left(2)),
    Column::new("LADDR", Fit::Left(15), Fit::Left(39)),
    Column::new("LPORT", Fit::Left(5), Fit::Left(5)),
    Column::new("RADDR", Fit::Left(15), Fit::Left(39)),
    Column::new("RPORT", Fit::Left(5), Fit::Left(5)),
    Column::new("TX_KB", Fit::Right(5), Fit::Right(6)),
    Column::new("RX_KB", Fit::Right(5), Fit::Right(6)),
    Column::new("MS", Fit::Bare, Fit::Bare),
];

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
    time: TimeColumns,
    first_ns: Option<u64>,
    counts: Counts,
    sink: Sink,
}

/// No port filter, or one of its ports.
fn port_in(ports: &[u16], port: u64) -> bool {
    ports.is_empty() || ports.iter().any(|&p| u64::from(p) == port)
}

impl Tcp {
    fn wanted(&self, ends: &Ends, pid: Option<u64>) -> bool {
        let o = &self.options;
        port_in(&o.local_ports, ends.lport)
            && port_in(&o.remote_ports, ends.rport)
            && (!o.ipv4 || ends.family != AF_INET6)
            && (!o.ipv6 || ends.family == AF_INET6)
            && o.pid
                .zip(pid)
                .is_none_or(|(want, got)| u64::from(want) == got)
    }

    /// Seconds from the first event to this one (at `ns`).
    fn seconds(&mut self, ns: u64) -> f64 {
        let first = *self.first_ns.get_or_insert(ns);
        ns.saturating_sub(first) as f64 / 1e9
    }

    /// A text line of tcpstates or tcplife: time columns, then `cells` as the layout says.
    fn write_row(&mut self, ns: u64, columns: &[Column], cells: &[String]) -> io::Result<()> {
        let seconds = self.seconds(ns);
        let layout = self.options.layout;
        let start = self.time.line(layout, seconds);
        writeln!(self.sink.out, "{start}{}", render(layout, columns, cells))
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
        let cells = [
            format!("{skaddr:x}"),
            pid.to_string(),
            comm,
            ends.ip_version().to_string(),
            ends.local,
            ends.lport.to_string(),
            ends.remote,
            ends.rport.to_string(),
            old,
            "->".into(),
            new,
            format!("{ms:.3}"),
        ];
        self.write_row(ns, STATES, &cells)
    }

    fn life(&mut self, f: &[Value]) -> io::Result<()> {
        let ends = Ends::read(f, 3);
        let (ns, pid) = (uint(f, 0), uint(f, 1));
        if !self.wanted(&ends, Some(pid)) {
            return Ok(());
        }
        let comm = text(f, 2);
        let (tx, rx, ms) = (uint(f, 10), uint(f, 11), uint(f, 12) as f64 / 1e6);
        if self.sink.json {
            return self.sink.json_line(serde_json::json!({
                "pid": pid, "comm": comm, "ip": ends.ip_version(), "laddr": ends.local,
                "lport": ends.lport, "raddr": ends.remote, "rport": ends.rport,
                "tx_bytes": tx, "rx_bytes": rx, "ms": ms,
            }));
        }
        let cells = [
            pid.to_string(),
            comm,
            ends.ip_version().to_string(),
            ends.local,
            ends.lport.to_string(),
            ends.remote,
            ends.rport.to_string(),
            (tx / 1024).to_string(),
            (rx / 1024).to_string(),
            format!("{ms:.2}"),
        ];
        self.write_row(ns, LIFE, &cells)
    }

    /// An open (tcpconnect's or tcpaccept's record) the filters keep: its ends, the process,
    /// the seconds since the first one, and the time columns that start its line.
    fn open(&mut self, f: &[Value]) -> Option<Open> {
        let ends = Ends::read(f, 3);
        let pid = uint(f, 1);
        if !self.wanted(&ends, Some(pid)) {
            return None;
        }
        let seconds = self.seconds(uint(f, 0));
        Some(Open {
            time: self.time.line(Layout::Narrow, seconds),
            ends,
            pid,
            comm: text(f, 2),
            seconds,
        })
    }

    /// BCC's tcpconnect columns: UID with -U, the local port with -L.
    fn connect(&mut self, f: &[Value]) -> io::Result<()> {
        let uid = uint(f, 10);
        if self.options.uid.is_some_and(|want| u64::from(want) != uid) {
            return Ok(());
        }
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
        if self.options.count {
            self.counts.add(Flow {
                local: ends.local,
                local_port: None,
                remote: ends.remote,
                remote_port: ends.rport,
            });
            return Ok(());
        }
        if self.sink.json {
            let mut object = serde_json::json!({
                "time": seconds, "pid": pid, "uid": uid, "comm": comm,
                "ip": ends.ip_version(), "saddr": ends.local, "daddr": ends.remote,
                "dport": ends.rport,
            });
            if self.options.print_local_port {
                object["lport"] = ends.lport.into();
            }
            return self.sink.json_line(object);
        }
        let uid = if self.options.print_uid {
            format!("{uid:<6}")
        } else {
            String::new()
        };
        let lport = if self.options.print_local_port {
            format!(" {:<6}", ends.lport)
        } else {
            String::new()
        };
        let comm: String = comm.chars().take(12).collect();
        writeln!(
            self.sink.out,
            "{time}{uid}{pid:<7} {comm:<12} {:<2} {:<16}{lport} {:<16} {:<6}",
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

    fn retrans(&mut self, f: &[Value]) -> io::Result<()> {
        let ends = Ends::read(f, 1);
        if !self.wanted(&ends, None) {
            return Ok(());
        }
        if self.options.count {
            self.counts.add(Flow {
                local: ends.local,
                local_port: Some(ends.lport),
                remote: ends.remote,
                remote_port: ends.rport,
            });
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

    fn header(&self) -> String {
        let layout = self.options.layout;
        let start = self.time.header(layout);
        let rest = match self.tool {
            Tool::States => header(layout, STATES),
            Tool::Life => header(layout, LIFE),
            Tool::Retrans => format!(
                "{:<8} {:<6} {:<2} {:<20} T> {:<20} STATE",
                "TIME", "PID", "IP", "LADDR:LPORT", "RADDR:RPORT"
            ),
            Tool::Accept => format!(
                "{:<7} {:<12} {:<2} {:<16} {:<5} {:<16} LPORT",
                "PID", "COMM", "IP", "RADDR", "RPORT", "LADDR"
            ),
            Tool::Connect => format!(
                "{}{:<7} {:<12} {:<2} {:<16}{} {:<16} DPORT",
                if self.options.print_uid { "UID   " } else { "" },
                "PID",
                "COMM",
                "IP",
                "SADDR",
                if self.options.print_local_port {
                    " LPORT "
                } else {
                    ""
                },
                "DADDR"
            ),
        };
        format!("{start}{rest}")
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

impl Report for Tcp {
    fn started(&mut self) -> io::Result<()> {
        if self.options.count {
            let what = match self.tool {
                Tool::Connect => "connect",
                _ => "retransmits",
            };
            return self
                .sink
                .text_line(&format!("Tracing {what} ... Hit Ctrl-C to end"));
        }
        let header = self.header();
        self.sink.text_line(&header)
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

    fn finished(&mut self) -> io::Result<()> {
        match (self.options.count, self.tool) {
            (true, Tool::Connect) => self.counts.print_connects(&mut self.sink),
            (true, _) => self.counts.print_retransmits(&mut self.sink),
            (false, _) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names() {
        assert_eq!(state_name(1), "ESTABLISHED");
        assert_eq!(state_name(7), "CLOSE");
        assert_eq!(state_name(99), "99");
    }

    #[test]
    fn every_script_compiles_with_its_parameters() {
        let local_port = Options {
            print_local_port: true,
            ..Options::default()
        };
        let mut variants: Vec<_> = [Tool::States, Tool::Life, Tool::Accept, Tool::Retrans]
            .into_iter()
            .map(|tool| (tool, Options::default()))
            .collect();
        variants.push((Tool::Connect, Options::default()));
        variants.push((Tool::Connect, local_port));
        for (tool, options) in variants {
            let launch = launch(tool, &options);
            let settings = bpfhook_lang::sema::Settings {
                positional: launch.params,
                ..Default::default()
            };
            if let Err(e) = bpfhook_lang::compile(&launch.name, &launch.source, settings) {
                panic!("{}\n{}", e.rendered, launch.source);
            }
        }
    }

    #[test]
    fn headers_in_bccs_three_layouts() {
        assert_eq!(
            header(Layout::Narrow, LIFE),
            "PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS"
        );
        let wide = header(Layout::Wide, LIFE);
        assert!(
            wide.starts_with("PID   COMM             IP LADDR"),
            "{wide}"
        );
        assert_eq!(wide.len(), 5 + 17 + 3 + 40 + 6 + 40 + 6 + 7 + 7 + 3);
        assert_eq!(
            header(Layout::Csv, STATES),
            "SKADDR,C-PID,C-COMM,IP,LADDR,LPORT,RADDR,RPORT,OLDSTATE,NEWSTATE,MS"
        );
        let time = TimeColumns {
            clock: true,
            seconds: true,
            precise: true,
        };
        assert_eq!(time.header(Layout::Narrow), "TIME     TIME(s)   ");
        assert_eq!(time.header(Layout::Csv), "TIME,TIME(s),");
        let seconds = TimeColumns {
            seconds: true,
            ..TimeColumns::default()
        };
        assert_eq!(seconds.line(Layout::Narrow, 1.5), "1.500    ");
    }
}
