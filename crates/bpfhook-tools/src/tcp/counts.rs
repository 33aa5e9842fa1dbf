//! `-c`: tcpconnect's connects and tcpretrans' retransmits counted per flow, printed as BCC
//! does when the run ends.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::report::Sink;

/// A flow's ends (tcpconnect counts per source, destination and destination port: no local
/// port).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Flow {
    pub local: String,
    pub local_port: Option<u64>,
    pub remote: String,
    pub remote_port: u64,
}

#[derive(Debug, Default)]
pub struct Counts(BTreeMap<Flow, u64>);

impl Counts {
    pub fn add(&mut self, flow: Flow) {
        *self.0.entry(flow).or_default() += 1;
    }

    /// BCC tcpconnect -c: LADDR RADDR RPORT CONNECTS, the most connects first.
    pub fn print_connects(&self, sink: &mut Sink) -> io::Result<()> {
        let mut rows: Vec<_> = self.0.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1));
        if !sink.json {
            writeln!(
                sink.out,
                "\n{:<25} {:<25} {:<20} {:<10}",
                "LADDR", "RADDR", "RPORT", "CONNECTS"
            )?;
        }
        for (flow, count) in rows {
            if sink.json {
                sink.json_line(serde_json::json!({
                    "laddr": flow.local, "raddr": flow.remote, "rport": flow.remote_port,
                    "connects": count,
                }))?;
            } else {
                writeln!(
                    sink.out,
                    "{:<25} {:<25} {:<20} {count:<10}",
                    flow.local, flow.remote, flow.remote_port
                )?;
            }
        }
        Ok(())
    }

    /// BCC tcpretrans -c: `[laddr]#lport <-> [raddr]#rport` and the count, the fewest first.
    pub fn print_retransmits(&self, sink: &mut Sink) -> io::Result<()> {
        let mut rows: Vec<_> = self.0.iter().collect();
        rows.sort_by(|a, b| a.1.cmp(b.1));
        if !sink.json {
            writeln!(
                sink.out,
                "\n{:<25} {:<25} {:<10}",
                "LADDR:LPORT", "RADDR:RPORT", "RETRANSMITS"
            )?;
        }
        for (flow, count) in rows {
            let lport = flow.local_port.unwrap_or_default();
            if sink.json {
                sink.json_line(serde_json::json!({
                    "laddr": flow.local, "lport": lport, "raddr": flow.remote,
                    "rport": flow.remote_port, "retransmits": count,
                }))?;
            } else {
                let local = format!("[{}]#{lport}", flow.local);
                let remote = format!("[{}]#{}", flow.remote, flow.remote_port);
                writeln!(sink.out, "{local:<20} <-> {remote:<20} {count:>10}")?;
            }
        }
        Ok(())
    }
}
