//! Run-time statistics for `bpfhook top`: switching them on for as long as a guard lives, and
//! per-program samples turned into per-interval rates.
//!
//! The kernel counts run time only while stats are enabled. `BPF_ENABLE_STATS` returns an fd
//! that keeps them on until closed, so a crash cannot leave them on; kernels without the command
//! (before 5.8) have only the `kernel.bpf_stats_enabled` sysctl, whose old value the guard
//! writes back when dropped.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::time::Duration;

use serde::Serialize;

use super::{ids, progs, InspectError};
use crate::sys::{self, ObjectKind};

const SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// Keeps run-time statistics on while alive.
#[derive(Debug)]
pub enum StatsGuard {
    /// The fd from `BPF_ENABLE_STATS`; closing it turns stats off again (if nobody else asked).
    Fd(OwnedFd),
    /// The sysctl was switched on; `previous` is written back on drop.
    Sysctl { previous: String },
}

impl StatsGuard {
    pub fn enable() -> Result<StatsGuard, InspectError> {
        match sys::enable_run_time_stats() {
            Ok(fd) => Ok(StatsGuard::Fd(fd)),
            // EINVAL: the kernel does not know the command; fall back to the sysctl.
            Err(e) if e.error.raw_os_error() == Some(libc::EINVAL) => Self::enable_sysctl(),
            Err(source) => Err(InspectError::Syscall {
                what: "turning on run-time statistics".to_owned(),
                source,
            }),
        }
    }

    fn enable_sysctl() -> Result<StatsGuard, InspectError> {
        let io = |source| InspectError::Io {
            path: SYSCTL.into(),
            source,
        };
        let previous = std::fs::read_to_string(SYSCTL).map_err(io)?;
        std::fs::write(SYSCTL, "1").map_err(io)?;
        Ok(StatsGuard::Sysctl {
            previous: previous.trim().to_owned(),
        })
    }
}

impl Drop for StatsGuard {
    fn drop(&mut self) {
        if let StatsGuard::Sysctl { previous } = self {
            // Nothing to report to from a destructor; the sysctl is root-writable and was
            // writable a moment ago.
            let _ = std::fs::write(SYSCTL, previous.as_bytes());
        }
    }
}

/// One program's cumulative counters at one moment.
#[derive(Debug, Clone)]
pub struct Sample {
    pub id: u32,
    pub prog_type: String,
    pub name: String,
    pub run_time_ns: u64,
    pub run_cnt: u64,
}

/// The counters of every loaded program.
pub fn sample() -> Result<Vec<Sample>, InspectError> {
    let mut samples = Vec::new();
    for id in ids(ObjectKind::Program)? {
        match progs::run_stats(id) {
            Ok((info, prog_type)) => samples.push(Sample {
                id,
                prog_type,
                name: super::c_name(&info.name),
                run_time_ns: info.run_time_ns,
                run_cnt: info.run_cnt,
            }),
            Err(InspectError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(samples)
}

/// One program over one interval, with its totals.
#[derive(Debug, Clone, Serialize)]
pub struct TopRow {
    pub id: u32,
    #[serde(rename = "type")]
    pub prog_type: String,
    pub name: String,
    /// Cumulative, as the kernel counts them.
    pub run_time_ns: u64,
    pub run_cnt: u64,
    /// During the interval.
    pub period_run_time_ns: u64,
    pub period_run_cnt: u64,
    pub runs_per_sec: f64,
    /// Average run time per run, in the interval and since stats began.
    pub period_avg_ns: f64,
    pub total_avg_ns: f64,
    /// Share of all CPUs' time spent in this program during the interval.
    pub cpu_percent: f64,
}

/// Rows for the programs in `now`; a program absent from `before` counts from zero (it was
/// loaded during the interval).
pub fn rows(before: &[Sample], now: &[Sample], interval: Duration, cpus: usize) -> Vec<TopRow> {
    let before: HashMap<u32, &Sample> = before.iter().map(|s| (s.id, s)).collect();
    let secs = interval.as_secs_f64().max(1e-9);
    let cpus = cpus.max(1) as f64;
    now.iter()
        .map(|s| {
            let (t0, c0) = before
                .get(&s.id)
                .map_or((0, 0), |b| (b.run_time_ns, b.run_cnt));
            // Counters only grow; a smaller value means the id was reused by a new program.
            let (dt, dc) = if s.run_time_ns >= t0 && s.run_cnt >= c0 {
                (s.run_time_ns - t0, s.run_cnt - c0)
            } else {
                (s.run_time_ns, s.run_cnt)
            };
            TopRow {
                id: s.id,
                prog_type: s.prog_type.clone(),
                name: s.name.clone(),
                run_time_ns: s.run_time_ns,
                run_cnt: s.run_cnt,
                period_run_time_ns: dt,
                period_run_cnt: dc,
                runs_per_sec: dc as f64 / secs,
                period_avg_ns: average(dt, dc),
                total_avg_ns: average(s.run_time_ns, s.run_cnt),
                cpu_percent: dt as f64 / (secs * 1e9 * cpus) * 100.0,
            }
        })
        .collect()
}

fn average(time: u64, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        time as f64 / count as f64
    }
}

/// CPUs online, the denominator of CPU %.
pub fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(id: u32, t: u64, c: u64) -> Sample {
        Sample {
            id,
            prog_type: "tracepoint".into(),
            name: format!("p{id}"),
            run_time_ns: t,
            run_cnt: c,
        }
    }

    #[test]
    fn rates_over_an_interval() {
        let rows = rows(
            &[s(1, 1_000, 10)],
            &[s(1, 501_000, 110), s(2, 100, 1)],
            Duration::from_millis(500),
            2,
        );
        assert_eq!(rows[0].period_run_cnt, 100);
        assert_eq!(rows[0].runs_per_sec, 200.0);
        assert_eq!(rows[0].period_avg_ns, 5_000.0);
        // 500 µs of 2 CPUs × 0.5 s.
        assert!((rows[0].cpu_percent - 0.05).abs() < 1e-9);
        assert_eq!(rows[1].period_run_cnt, 1, "new programs count from zero");
    }
}
