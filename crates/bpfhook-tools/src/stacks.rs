//! What `profile` and `offcputime` share: a map of (kernel stack, user stack, comm, pid) →
//! samples or microseconds, printed as BCC prints stacks, as folded lines
//! (`comm;root;…;leaf count`) or as an SVG flame graph (inferno).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use bpfhook_lang::output::{Aggregate, MapDump};

use crate::fields::{frames, text, uint};
use crate::launch::{self, check_pid, edit, Launch, ToolError};
use crate::report::{Report, ReportOutput, Sink};

/// The options of every stack tool.
#[derive(Debug, Default, Clone)]
pub struct StackOptions {
    /// `-p`: only these processes (none: every process).
    pub pids: Vec<u32>,
    /// `-L` (profile) or `-t` (offcputime): only these threads.
    pub tids: Vec<u32>,
    /// `-d`: a delimiter between the kernel and the user stack (`--`; `-` in folded lines).
    pub delimited: bool,
    /// `-U`: user stacks only.
    pub user_only: bool,
    /// `-K`: kernel stacks only.
    pub kernel_only: bool,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// `-f`/`--folded`: one `comm;frame;… count` line per stack.
    pub folded: bool,
    /// `--flamegraph FILE`: write an SVG flame graph there.
    pub flamegraph: Option<PathBuf>,
    /// `--json`: one object per stack.
    pub json: bool,
}

impl StackOptions {
    pub(crate) fn check(&self) -> Result<(), ToolError> {
        if self.user_only && self.kernel_only {
            return Err(ToolError::Usage("-U and -K are exclusive".into()));
        }
        if !self.pids.is_empty() && !self.tids.is_empty() {
            return Err(ToolError::Usage(
                "processes (-p) or threads, not both".into(),
            ));
        }
        for &id in self.pids.iter().chain(&self.tids) {
            check_pid(id)?;
        }
        Ok(())
    }

    /// The script with its process filter, `($1 == 0 || pid == $1)`, made the `-p` or thread
    /// list's (`$1` stays the filter of the script run by itself).
    pub(crate) fn filtered(&self, text: &str) -> String {
        let (builtin, ids) = if self.tids.is_empty() {
            ("pid", &self.pids)
        } else {
            ("tid", &self.tids)
        };
        if ids.is_empty() {
            return text.to_owned();
        }
        let any: Vec<String> = ids.iter().map(|id| format!("{builtin} == {id}")).collect();
        edit(
            text,
            "($1 == 0 || pid == $1)",
            &format!("({})", any.join(" || ")),
        )
    }

    /// The banner's tail in two: `all threads by user + kernel stack` and `... Hit Ctrl-C to
    /// end.` (profile puts its CPU between them).
    pub(crate) fn describe(&self) -> (String, String) {
        let list = |ids: &[u32]| ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let who = match (&self.pids[..], &self.tids[..]) {
            ([], []) => "all threads".into(),
            (pids, []) => format!("PID {}", list(pids)),
            (_, tids) => format!("TID {}", list(tids)),
        };
        let stacks = match (self.user_only, self.kernel_only) {
            (true, _) => "user",
            (_, true) => "kernel",
            _ => "user + kernel",
        };
        let until = match self.duration {
            Some(d) => format!(" for {} secs.", d.as_secs_f64()),
            None => "... Hit Ctrl-C to end.".into(),
        };
        (format!("{who} by {stacks} stack"), until)
    }
}

/// What differs between the stack tools.
pub(crate) struct StackTool {
    pub name: &'static str,
    /// The script's map of stacks.
    pub map: &'static str,
    /// What a stack's weight counts, as the flame graph says it.
    pub count_name: &'static str,
    /// `-a` (profile): kernel frames of folded lines end in `_[k]`.
    pub annotations: bool,
}

/// Runs a stack tool's `launch`; `banner` is its first line.
pub(crate) fn run(
    tool: StackTool,
    mut launch: Launch,
    options: StackOptions,
    banner: String,
    out: Box<dyn Write>,
    stop: Arc<AtomicBool>,
) -> Result<i32, ToolError> {
    launch.duration = options.duration;
    let json = options.json;
    let mut output = ReportOutput(Stacks {
        tool,
        options,
        banner,
        sink: Sink::new(out, json),
        error: None,
    });
    let code = launch::run(launch, stop, &mut output)?;
    match output.0.error.take() {
        Some(error) => Err(error),
        None => Ok(code),
    }
}

struct Stacks {
    tool: StackTool,
    options: StackOptions,
    banner: String,
    sink: Sink,
    /// A failure writing the flame graph, returned once the run is over.
    error: Option<ToolError>,
}

/// One stack and its weight (samples, or microseconds off CPU).
struct Sample<'a> {
    kernel: &'a [String],
    user: &'a [String],
    comm: String,
    pid: u32,
    count: u64,
}

impl Report for Stacks {
    fn started(&mut self) -> io::Result<()> {
        if self.options.folded {
            return Ok(());
        }
        self.sink.text_line(&self.banner)
    }

    fn table(&mut self, map: &MapDump) -> io::Result<()> {
        if map.name != self.tool.map {
            return Ok(());
        }
        let mut samples: Vec<Sample> = map
            .entries
            .iter()
            .map(|(key, value)| Sample {
                kernel: if self.options.user_only {
                    &[]
                } else {
                    frames(key, 0)
                },
                user: if self.options.kernel_only {
                    &[]
                } else {
                    frames(key, 1)
                },
                comm: text(key, 2),
                pid: uint(key, 3) as u32,
                count: match value {
                    Aggregate::Count(n) => *n,
                    Aggregate::Sum(n) => (*n).max(0) as u64,
                    _ => 0,
                },
            })
            .collect();
        warn_without_frame_pointers(self.tool.name, &samples);
        samples.sort_by_key(|s| s.count);
        if let Some(path) = self.options.flamegraph.clone() {
            match write_flamegraph(&self.tool, &path, &folded_lines(&samples, self.folding())) {
                Ok(()) => eprintln!(
                    "{}: flame graph written to {}",
                    self.tool.name,
                    path.display()
                ),
                Err(error) => self.error = Some(error),
            }
            // The SVG is the output unless folded lines or JSON are asked for too.
            if !self.options.folded && !self.sink.json {
                return Ok(());
            }
        }
        if self.options.folded {
            for line in folded_lines(&samples, self.folding()) {
                writeln!(self.sink.out, "{line}")?;
            }
            return Ok(());
        }
        for sample in &samples {
            if self.sink.json {
                self.sink.json_line(serde_json::json!({
                    "comm": sample.comm, "pid": sample.pid, "count": sample.count,
                    "kernel_stack": sample.kernel, "user_stack": sample.user,
                }))?;
                continue;
            }
            for frame in sample.kernel {
                writeln!(self.sink.out, "    {frame}")?;
            }
            if self.options.delimited && !sample.kernel.is_empty() && !sample.user.is_empty() {
                writeln!(self.sink.out, "    --")?;
            }
            for frame in sample.user {
                writeln!(self.sink.out, "    {frame}")?;
            }
            writeln!(
                self.sink.out,
                "    {:<16} {} ({})\n        {}\n",
                "-", sample.comm, sample.pid, sample.count
            )?;
        }
        Ok(())
    }
}

impl Stacks {
    fn folding(&self) -> Folding {
        Folding {
            delimited: self.options.delimited,
            annotations: self.tool.annotations,
        }
    }
}

/// BCC's marks in folded lines: `-d` puts `-` between the user and the kernel frames, `-a`
/// ends each kernel frame in `_[k]`.
#[derive(Debug, Default, Clone, Copy)]
struct Folding {
    delimited: bool,
    annotations: bool,
}

/// Brendan Gregg's folded format: `comm;user root…leaf;kernel root…leaf count`, frames
/// without offsets, equal stacks merged, in name order.
fn folded_lines(samples: &[Sample], folding: Folding) -> Vec<String> {
    let mut merged: BTreeMap<String, u64> = BTreeMap::new();
    for sample in samples {
        let mut frames: Vec<String> = sample.user.iter().rev().map(|f| folded(f)).collect();
        if folding.delimited && !sample.user.is_empty() && !sample.kernel.is_empty() {
            frames.push("-".into());
        }
        let mark = if folding.annotations { "_[k]" } else { "" };
        frames.extend(
            sample
                .kernel
                .iter()
                .rev()
                .map(|f| format!("{}{mark}", folded(f))),
        );
        let mut line = sample.comm.replace(';', ":");
        for frame in frames {
            line.push(';');
            line.push_str(&frame);
        }
        *merged.entry(line).or_default() += sample.count;
    }
    merged
        .into_iter()
        .map(|(stack, count)| format!("{stack} {count}"))
        .collect()
}

/// A frame as a folded line has it: no offset, no `;`.
fn folded(frame: &str) -> String {
    without_offset(frame).replace(';', ":")
}

/// `do_sys_open+28` → `do_sys_open`; an address or a name with no offset stays as it is.
fn without_offset(frame: &str) -> &str {
    match frame.rsplit_once('+') {
        Some((name, offset))
            if !name.is_empty()
                && !offset.is_empty()
                && offset.bytes().all(|b| b.is_ascii_hexdigit() || b == b'x') =>
        {
            name
        }
        _ => frame,
    }
}

fn write_flamegraph(
    tool: &StackTool,
    path: &std::path::Path,
    lines: &[String],
) -> Result<(), ToolError> {
    if lines.is_empty() {
        return Err(ToolError::FlameGraph(format!(
            "{}: no samples were taken",
            path.display()
        )));
    }
    let file = std::fs::File::create(path)
        .map_err(|e| ToolError::FlameGraph(format!("{}: {e}", path.display())))?;
    let mut options = inferno::flamegraph::Options::default();
    options.title = format!("bpfhook {}", tool.name);
    options.count_name = tool.count_name.into();
    inferno::flamegraph::from_lines(
        &mut options,
        lines.iter().map(String::as_str),
        io::BufWriter::new(file),
    )
    .map_err(|e| ToolError::FlameGraph(format!("{}: {e}", path.display())))
}

/// Says on stderr which sampled programs were built without frame pointers: their user
/// stacks stop after the first frame or two. Only processes still running can be checked.
fn warn_without_frame_pointers(tool: &str, samples: &[Sample]) {
    let pids: BTreeSet<u32> = samples
        .iter()
        .filter(|s| !s.user.is_empty())
        .map(|s| s.pid)
        .collect();
    let mut seen = BTreeSet::new();
    for pid in pids {
        let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) else {
            continue;
        };
        if seen.insert(exe.clone()) && bpfhook::symbolize::has_frame_pointers(&exe) == Some(false) {
            eprintln!(
                "{tool}: {} (pid {pid}) has no frame pointers: its user stacks are cut short",
                exe.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_stripped() {
        assert_eq!(without_offset("do_sys_open+28"), "do_sys_open");
        assert_eq!(without_offset("main+0x1f"), "main");
        assert_eq!(without_offset("0x7f00dead"), "0x7f00dead");
        assert_eq!(without_offset("operator+"), "operator+");
    }

    #[test]
    fn folded_root_first_and_merged() {
        let kernel = vec!["leaf_k+1".to_string(), "root_k+2".to_string()];
        let user = vec!["hot+3".to_string(), "main+4".to_string()];
        let user_other_offset = vec!["hot+9".to_string(), "main+4".to_string()];
        let sample = |user, count| Sample {
            kernel: &kernel,
            user,
            comm: "app".into(),
            pid: 7,
            count,
        };
        let samples = [sample(&user, 2), sample(&user_other_offset, 3)];
        let lines = folded_lines(&samples, Folding::default());
        assert_eq!(lines, vec!["app;main;hot;root_k;leaf_k 5".to_string()]);
        let marked = Folding {
            delimited: true,
            annotations: true,
        };
        assert_eq!(
            folded_lines(&samples, marked),
            vec!["app;main;hot;-;root_k_[k];leaf_k_[k] 5".to_string()]
        );
    }
}
