//! `bpfhook top`: loaded programs sorted by CPU use, refreshed every interval.
//!
//! Run-time statistics are switched on for as long as the command runs (the library's guard
//! switches them off again). On a terminal the view redraws in place and reads single keys;
//! otherwise it prints one plain table per interval. SIGINT/SIGTERM/SIGHUP only raise a flag, so
//! the loop ends normally and every guard (statistics, terminal mode) restores what it changed.

use std::io::{IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use bpfhook::inspect::stats::{self, Sample, StatsGuard, TopRow};
use clap::Args;

#[derive(Args)]
pub struct TopArgs {
    /// Seconds between samples
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Print one sample (taken over one interval) and exit
    #[arg(long)]
    once: bool,
    /// With --once: print the sample as one line of JSON
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SortBy {
    Cpu,
    Runs,
    Avg,
    Name,
}

impl SortBy {
    fn label(self) -> &'static str {
        match self {
            SortBy::Cpu => "cpu",
            SortBy::Runs => "runs/s",
            SortBy::Avg => "avg",
            SortBy::Name => "name",
        }
    }
}

pub fn top(args: TopArgs) -> Result<()> {
    if !(args.interval.is_finite() && args.interval > 0.0 && args.interval <= 3600.0) {
        bail!(
            "--interval must be a number of seconds above 0 (at most 3600), not {}",
            args.interval
        );
    }
    let interval = Duration::from_secs_f64(args.interval);
    if args.json && !args.once {
        bail!("--json needs --once: a live view has no single JSON document to print");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let _stats = StatsGuard::enable()?;
    let cpus = stats::online_cpus();

    if args.once {
        let before = stats::sample()?;
        let start = Instant::now();
        sleep_unless_stopped(interval, &stop);
        let now = stats::sample()?;
        let mut rows = stats::rows(&before, &now, start.elapsed(), cpus);
        sort(&mut rows, SortBy::Cpu);
        let mut out = std::io::stdout().lock();
        if args.json {
            serde_json::to_writer(&mut out, &rows)?;
            out.write_all(b"\n")?;
        } else {
            out.write_all(table(&rows, usize::MAX).as_bytes())?;
        }
        return Ok(());
    }

    let interactive = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    if interactive {
        live(interval, cpus, &stop)
    } else {
        plain(interval, cpus, &stop)
    }
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let end = Instant::now() + total;
    while !stop.load(Ordering::Relaxed) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// Not a terminal: one table per interval, no escape codes.
fn plain(interval: Duration, cpus: usize, stop: &AtomicBool) -> Result<()> {
    let mut before = stats::sample()?;
    let mut start = Instant::now();
    let mut out = std::io::stdout().lock();
    while !stop.load(Ordering::Relaxed) {
        sleep_unless_stopped(interval, stop);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let now = stats::sample()?;
        let mut rows = stats::rows(&before, &now, start.elapsed(), cpus);
        sort(&mut rows, SortBy::Cpu);
        writeln!(out, "{}", table(&rows, usize::MAX))?;
        out.flush()?;
        (before, start) = (now, Instant::now());
    }
    Ok(())
}

/// The terminal view: redraw every interval, react to keys at once.
fn live(interval: Duration, cpus: usize, stop: &AtomicBool) -> Result<()> {
    let _terminal = RawTerminal::enter()?;
    let mut view = View {
        sort: SortBy::Cpu,
        filter: String::new(),
        editing: None,
        rows: Vec::new(),
    };
    let mut before: Vec<Sample> = stats::sample()?;
    let mut start = Instant::now();
    view.draw()?;
    while !stop.load(Ordering::Relaxed) {
        let left = interval.saturating_sub(start.elapsed());
        if let Some(key) = read_key(left)? {
            if view.key(key) == Action::Quit {
                break;
            }
            view.draw()?;
            continue;
        }
        if start.elapsed() >= interval {
            let now = stats::sample()?;
            view.rows = stats::rows(&before, &now, start.elapsed(), cpus);
            (before, start) = (now, Instant::now());
            view.draw()?;
        }
    }
    Ok(())
}

#[derive(PartialEq, Eq)]
enum Action {
    Continue,
    Quit,
}

struct View {
    sort: SortBy,
    filter: String,
    /// The filter being typed after `/`, until Enter (keep) or Esc (cancel).
    editing: Option<String>,
    rows: Vec<TopRow>,
}

impl View {
    fn key(&mut self, key: u8) -> Action {
        if let Some(text) = &mut self.editing {
            match key {
                b'\r' | b'\n' => self.filter = self.editing.take().unwrap_or_default(),
                0x1b => self.editing = None,
                0x7f | 0x08 => {
                    text.pop();
                }
                c if c.is_ascii_graphic() || c == b' ' => text.push(c as char),
                _ => {}
            }
            return Action::Continue;
        }
        match key {
            b'q' | b'Q' => return Action::Quit,
            b's' => self.sort = SortBy::Cpu,
            b'c' => self.sort = SortBy::Runs,
            b'r' => self.sort = SortBy::Avg,
            b'n' => self.sort = SortBy::Name,
            b'/' => self.editing = Some(String::new()),
            _ => {}
        }
        Action::Continue
    }

    fn draw(&self) -> Result<()> {
        let (height, width) = terminal_size();
        let mut rows: Vec<TopRow> = self
            .rows
            .iter()
            .filter(|r| self.filter.is_empty() || r.name.contains(&self.filter))
            .cloned()
            .collect();
        sort(&mut rows, self.sort);
        let mut screen = String::from("\x1b[H\x1b[2J");
        let filter = if self.filter.is_empty() {
            String::new()
        } else {
            format!("  filter: {}", self.filter)
        };
        screen.push_str(&format!(
            "bpfhook top — {} programs, sorted by {}{filter}\n",
            rows.len(),
            self.sort.label()
        ));
        let body = table(&rows, height.saturating_sub(3));
        for line in body.lines() {
            let line: String = line.chars().take(width).collect();
            screen.push_str(&line);
            screen.push('\n');
        }
        match &self.editing {
            Some(text) => screen.push_str(&format!("filter by name: {text}")),
            None => screen.push_str("q quit  s cpu  c runs/s  r avg  n name  / filter"),
        }
        let mut out = std::io::stdout().lock();
        out.write_all(screen.as_bytes())?;
        out.flush()?;
        Ok(())
    }
}

fn sort(rows: &mut [TopRow], by: SortBy) {
    let desc = |a: f64, b: f64| b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal);
    rows.sort_by(|a, b| {
        let primary = match by {
            SortBy::Cpu => {
                desc(a.cpu_percent, b.cpu_percent).then_with(|| b.run_time_ns.cmp(&a.run_time_ns))
            }
            SortBy::Runs => {
                desc(a.runs_per_sec, b.runs_per_sec).then_with(|| b.run_cnt.cmp(&a.run_cnt))
            }
            SortBy::Avg => desc(a.period_avg_ns, b.period_avg_ns)
                .then_with(|| desc(a.total_avg_ns, b.total_avg_ns)),
            SortBy::Name => a.name.cmp(&b.name),
        };
        primary.then_with(|| a.id.cmp(&b.id))
    });
}

/// The table: a header and at most `max_rows` programs.
fn table(rows: &[TopRow], max_rows: usize) -> String {
    let mut out = format!(
        "{:>6} {:<16} {:<16} {:>7} {:>10} {:>10} {:>10} {:>12}\n",
        "ID", "TYPE", "NAME", "CPU%", "RUNS/S", "AVG NS", "TOTAL AVG", "RUNS"
    );
    for r in rows.iter().take(max_rows) {
        out.push_str(&format!(
            "{:>6} {:<16} {:<16} {:>7.2} {:>10.0} {:>10.0} {:>10.0} {:>12}\n",
            r.id,
            r.prog_type,
            r.name,
            r.cpu_percent,
            r.runs_per_sec,
            r.period_avg_ns,
            r.total_avg_ns,
            r.run_cnt
        ));
    }
    out
}

/// Waits up to `timeout` for one byte on stdin.
fn read_key(timeout: Duration) -> Result<Option<u8>> {
    let mut fds = libc::pollfd {
        fd: libc::STDIN_FILENO,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd, count 1.
    let ready = unsafe { libc::poll(&mut fds, 1, ms) };
    if ready <= 0 {
        // Timeout, or a signal (EINTR): the caller checks its stop flag either way.
        return Ok(None);
    }
    let mut byte = [0u8; 1];
    match std::io::stdin().lock().read(&mut byte) {
        Ok(1) => Ok(Some(byte[0])),
        // End of input: treat like `q`, or the loop would spin on a readable, empty stdin.
        Ok(_) => Ok(Some(b'q')),
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn terminal_size() -> (usize, usize) {
    // SAFETY: winsize is plain data; TIOCGWINSZ fills it or fails.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: stdout is a terminal here, and `size` is a valid winsize.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_row > 0 && size.ws_col > 0 {
        (usize::from(size.ws_row), usize::from(size.ws_col))
    } else {
        (24, 80)
    }
}

/// Keys without Enter and without echo, on the alternate screen, for as long as it lives.
/// ISIG stays on, so Ctrl-C still raises SIGINT (which ends the loop and drops this guard).
struct RawTerminal {
    saved: libc::termios,
}

impl RawTerminal {
    fn enter() -> Result<RawTerminal> {
        // SAFETY: termios is plain data that tcgetattr fills.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: stdin is a terminal (checked by the caller); `saved` is valid to fill.
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut saved) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        let mut raw = saved;
        raw.c_lflag &= !(libc::ICANON | libc::ECHO);
        raw.c_cc[libc::VMIN] = 1;
        raw.c_cc[libc::VTIME] = 0;
        // SAFETY: `raw` is a valid termios derived from the current one.
        if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        // Alternate screen and hidden cursor; Drop restores both.
        print!("\x1b[?1049h\x1b[?25l");
        Ok(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        print!("\x1b[?25h\x1b[?1049l");
        let _ = std::io::stdout().flush();
        // SAFETY: restoring the settings read in `enter`.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u32, name: &str, cpu: f64, runs: f64, avg: f64) -> TopRow {
        TopRow {
            id,
            prog_type: "kprobe".into(),
            name: name.into(),
            run_time_ns: 0,
            run_cnt: 0,
            period_run_time_ns: 0,
            period_run_cnt: 0,
            runs_per_sec: runs,
            period_avg_ns: avg,
            total_avg_ns: avg,
            cpu_percent: cpu,
        }
    }

    #[test]
    fn sorting_and_keys() {
        let mut rows = vec![row(1, "b", 1.0, 50.0, 5.0), row(2, "a", 3.0, 10.0, 9.0)];
        sort(&mut rows, SortBy::Cpu);
        assert_eq!(rows[0].id, 2);
        sort(&mut rows, SortBy::Runs);
        assert_eq!(rows[0].id, 1);
        sort(&mut rows, SortBy::Name);
        assert_eq!(rows[0].name, "a");

        let mut view = View {
            sort: SortBy::Cpu,
            filter: String::new(),
            editing: None,
            rows,
        };
        assert!(view.key(b'r') == Action::Continue && view.sort == SortBy::Avg);
        for k in b"/ab\x7fa\r" {
            view.key(*k);
        }
        assert_eq!(view.filter, "aa");
        assert!(view.key(b'q') == Action::Quit);
    }
}
