//! `syscount`: system calls counted per syscall (or per process with `-P`), with their total
//! latency (`-L`), the top ones printed at Ctrl-C, after the duration or every interval; for
//! one process (`-p`), thread (`-t`), the children of one (`-c`), one syscall (`--syscall`),
//! failed calls (`-x`) or those failing with one errno (`-e`).

use std::io::{self, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use bpfhook_lang::output::{Aggregate, MapDump, Value};

use crate::fields::{text, uint};
use crate::histograms::clock_time;
use crate::launch::{self, check_pid, edit, Launch, ToolError};
use crate::report::{Report, ReportOutput, Sink};

/// BCC's options.
#[derive(Debug, Clone)]
pub struct Options {
    /// `-p`: only this process.
    pub pid: Option<u32>,
    /// `-t`: only this thread.
    pub tid: Option<u32>,
    /// `-c`: only children of this process.
    pub ppid: Option<u32>,
    /// `-e`: only calls that failed with this errno (a number, or a name: `ENOENT`).
    pub errno: Option<String>,
    /// `--syscall`: only this syscall (by name: `openat`).
    pub syscall: Option<String>,
    /// `-P`: count per process, not per syscall.
    pub per_process: bool,
    /// `-L`: also the total time spent in the calls.
    pub latency: bool,
    /// `-m`: that time in milliseconds, not microseconds.
    pub milliseconds: bool,
    /// `-x`: only calls that failed.
    pub failed: bool,
    /// `-T`: how many rows to print.
    pub top: usize,
    /// `-i`: print (and reset) every this many seconds.
    pub interval: Option<u64>,
    /// `-d`: stop after this long.
    pub duration: Option<Duration>,
    /// `--json`: one object per row.
    pub json: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            pid: None,
            tid: None,
            ppid: None,
            errno: None,
            syscall: None,
            per_process: false,
            latency: false,
            milliseconds: false,
            failed: false,
            top: 10,
            interval: None,
            duration: None,
            json: false,
        }
    }
}

/// Counts until Ctrl-C (`stop`) or the duration.
pub fn run(options: Options, out: Box<dyn Write>, stop: Arc<AtomicBool>) -> Result<i32, ToolError> {
    for pid in [options.pid, options.tid, options.ppid]
        .into_iter()
        .flatten()
    {
        check_pid(pid)?;
    }
    let errno = options.errno.as_deref().map(parse_errno).transpose()?;
    let syscall = options.syscall.as_deref().map(parse_syscall).transpose()?;
    if options.interval == Some(0) {
        return Err(ToolError::Usage(
            "invalid interval: 0 (seconds, at least 1)".into(),
        ));
    }
    let mut launch = Launch::new("syscount", script(&options, syscall));
    launch.params = [
        options.pid,
        Some(u32::from(options.failed)),
        options.tid,
        errno,
        options.ppid,
    ]
    .map(|p| p.unwrap_or(0).to_string())
    .into();
    launch.duration = options.duration;
    let json = options.json;
    let mut output = ReportOutput(Syscount {
        options,
        sink: Sink::new(out, json),
        calls: None,
    });
    launch::run(launch, stop, &mut output)
}

/// The script with the options that change its shape applied; `syscall`: only this number.
fn script(options: &Options, syscall: Option<usize>) -> String {
    let mut text = crate::script("syscount").unwrap_or_default().to_owned();
    if let Some(number) = syscall {
        // Syscall 0 is a syscall (read): a number, not a parameter where 0 means "any".
        let probe = "tracepoint:raw_syscalls:sys_exit\n/ ";
        text = edit(&text, probe, &format!("{probe}args->id == {number} && "));
    }
    let key = if options.per_process {
        "[pid, comm]"
    } else {
        "[args->id]"
    };
    let mut count = format!("  @calls{key} = count();\n");
    if options.latency {
        text = format!(
            "tracepoint:raw_syscalls:sys_enter\n/ ($1 == 0 || pid == $1) && ($3 == 0 || tid == $3) /\n{{\n  @start[tid] = nsecs;\n}}\n\n{text}\
             \nEND\n{{\n  clear(@start);\n}}\n"
        );
        count.push_str(&format!(
            "  if (@start[tid]) {{\n    @time{key} = sum(nsecs - @start[tid]);\n    delete(@start[tid]);\n  }}\n"
        ));
    }
    text = edit(&text, "  @calls[args->id] = count();\n", &count);
    if let Some(seconds) = options.interval {
        let mut body = String::from("  print(@calls);\n  clear(@calls);\n");
        if options.latency {
            body.push_str("  print(@time);\n  clear(@time);\n");
        }
        text.push_str(&format!("\ninterval:s:{seconds}\n{{\n{body}}}\n"));
    }
    text
}

struct Syscount {
    options: Options,
    sink: Sink,
    /// With `-L`, the counts wait here for the times printed after them.
    calls: Option<MapDump>,
}

/// One row: a syscall or a process, its count and total time in nanoseconds.
struct Row {
    key: Vec<Value>,
    count: u64,
    nanos: u64,
}

impl Syscount {
    fn rows(&self, calls: &MapDump, time: Option<&MapDump>) -> Vec<Row> {
        let nanos = |key: &[Value]| {
            time.and_then(|t| t.entries.iter().find(|(k, _)| k.as_slice() == key))
                .map_or(0, |(_, v)| match v {
                    Aggregate::Sum(n) => (*n).max(0) as u64,
                    _ => 0,
                })
        };
        let mut rows: Vec<Row> = calls
            .entries
            .iter()
            .map(|(key, value)| Row {
                key: key.clone(),
                count: match value {
                    Aggregate::Count(n) => *n,
                    _ => 0,
                },
                nanos: nanos(key),
            })
            .collect();
        if self.options.latency {
            rows.sort_by_key(|r| std::cmp::Reverse(r.nanos));
        } else {
            rows.sort_by_key(|r| std::cmp::Reverse(r.count));
        }
        rows.truncate(self.options.top);
        rows
    }

    fn print(&mut self, rows: &[Row]) -> io::Result<()> {
        let (unit, scale) = if self.options.milliseconds {
            ("ms", 1e6)
        } else {
            ("us", 1e3)
        };
        if !self.sink.json {
            writeln!(self.sink.out, "[{}]", clock_time())?;
            let what = if self.options.per_process {
                format!("{:<6} {:<15}", "PID", "COMM")
            } else {
                format!("{:<22}", "SYSCALL")
            };
            let time = if self.options.latency {
                format!(" {:>16}", format!("TIME ({unit})"))
            } else {
                String::new()
            };
            writeln!(self.sink.out, "{what} {:>8}{time}", "COUNT")?;
        }
        for row in rows {
            let time = row.nanos as f64 / scale;
            if self.sink.json {
                let mut object = serde_json::json!({"count": row.count});
                if self.options.per_process {
                    object["pid"] = uint(&row.key, 0).into();
                    object["comm"] = text(&row.key, 1).into();
                } else {
                    object["syscall"] = syscall_name(uint(&row.key, 0)).into();
                }
                if self.options.latency {
                    object[format!("time_{unit}")] = time.into();
                }
                self.sink.json_line(object)?;
                continue;
            }
            let what = if self.options.per_process {
                format!("{:<6} {:<15}", uint(&row.key, 0), text(&row.key, 1))
            } else {
                format!("{:<22}", syscall_name(uint(&row.key, 0)))
            };
            let time = if self.options.latency {
                format!(" {time:>16.3}")
            } else {
                String::new()
            };
            writeln!(self.sink.out, "{what} {:>8}{time}", row.count)?;
        }
        if !self.sink.json {
            writeln!(self.sink.out)?;
        }
        self.sink.out.flush()
    }
}

impl Report for Syscount {
    fn started(&mut self) -> io::Result<()> {
        if self.sink.json {
            return Ok(());
        }
        let failed = if self.options.failed { "failed " } else { "" };
        match &self.options.syscall {
            Some(name) => writeln!(
                self.sink.out,
                "Tracing {failed}syscall '{name}'... Ctrl+C to quit."
            ),
            None => writeln!(
                self.sink.out,
                "Tracing {failed}syscalls, printing top {}... Ctrl+C to quit.",
                self.options.top
            ),
        }
    }

    fn table(&mut self, map: &MapDump) -> io::Result<()> {
        let rows = match map.name.as_str() {
            "@calls" if self.options.latency => {
                self.calls = Some(map.clone());
                return Ok(());
            }
            "@calls" => self.rows(map, None),
            "@time" => match self.calls.take() {
                Some(calls) => self.rows(&calls, Some(map)),
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
        self.print(&rows)
    }
}

/// `openat` for its number on this architecture; else the number.
fn syscall_name(id: u64) -> String {
    syscalls::Sysno::new(id as usize)
        .map(|s| s.name().to_owned())
        .unwrap_or_else(|| format!("[unknown: {id}]"))
}

/// `-e`: an errno by number (`2`, `-2`) or name (`ENOENT`).
fn parse_errno(text: &str) -> Result<u32, ToolError> {
    let number = match text.parse::<i64>() {
        Ok(n) => Some(n.unsigned_abs()),
        Err(_) => (1..4096u64).find(|&n| {
            syscalls::Errno::new(n as i32).name() == Some(text.to_ascii_uppercase().as_str())
        }),
    };
    number
        .filter(|n| (1..4096).contains(n))
        .map(|n| n as u32)
        .ok_or_else(|| ToolError::Usage(format!("couldn't map {text} to an errno")))
}

/// `--syscall`: a syscall's number on this architecture, by name.
fn parse_syscall(name: &str) -> Result<usize, ToolError> {
    name.parse::<syscalls::Sysno>()
        .map(|s| s.id() as usize)
        .map_err(|_| ToolError::Usage(format!("syscall '{name}' not found (-l lists them)")))
}

/// `-l`: every syscall name this architecture has, sorted, four to a line as BCC lists them.
pub fn list(out: &mut dyn Write) -> io::Result<()> {
    let mut names: Vec<&str> = syscalls::Sysno::iter().map(|s| s.name()).collect();
    names.sort_unstable();
    for row in names.chunks(4) {
        let cells: Vec<String> = row.iter().map(|n| format!("{n:<22}")).collect();
        writeln!(out, "{}", cells.join("   "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_edits_a_script_that_compiles() {
        let all = Options {
            per_process: true,
            latency: true,
            interval: Some(1),
            ..Options::default()
        };
        for (options, syscall) in [(Options::default(), None), (all, Some(0))] {
            let source = script(&options, syscall);
            if let Err(e) = bpfhook_lang::compile("syscount", &source, Default::default()) {
                panic!("{}\n{source}", e.rendered);
            }
        }
    }

    #[test]
    fn errnos_and_syscalls_by_name() {
        assert_eq!(parse_errno("ENOENT").unwrap(), 2);
        assert_eq!(parse_errno("eperm").unwrap(), 1);
        assert_eq!(parse_errno("-13").unwrap(), 13);
        assert!(parse_errno("ENOPE").is_err());
        assert!(parse_errno("0").is_err());
        assert_eq!(parse_syscall("openat").unwrap(), libc::SYS_openat as usize);
        assert!(parse_syscall("nosuchcall").is_err());
        let mut listed = Vec::new();
        list(&mut listed).unwrap();
        let listed = String::from_utf8(listed).unwrap();
        assert!(listed.lines().all(|l| l.split_whitespace().count() <= 4));
        assert!(listed.split_whitespace().any(|n| n == "openat"));
    }

    #[test]
    fn names_from_numbers() {
        assert_eq!(syscall_name(libc::SYS_openat as u64), "openat");
    }
}
