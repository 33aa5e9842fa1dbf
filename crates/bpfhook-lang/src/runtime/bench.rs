//! `--mode bench`: each `bench:NAME` probe run through BPF_PROG_TEST_RUN, the repeat count
//! raised until one batch takes at least a millisecond (as bpftrace raises it), then the
//! kernel's average time per run reported with the count. What a benchmark prints is
//! dropped; its map updates stay for the end probes and the exit dump.

use std::os::fd::BorrowedFd;
use std::time::Duration;

use super::{RuntimeError, Session};
use crate::output::Output;

/// XDP test runs need at least an Ethernet header of input.
const PACKET: [u8; 14] = [0; 14];

/// Past this, a program too fast for the kernel's clock reports what it has.
const MAX_REPEAT: u32 = 1 << 30;

impl Session<'_> {
    /// Runs every benchmark in order, reporting each that did not skip itself (returning
    /// non-zero, as bpftrace allows).
    pub(super) fn run_benchmarks(
        &mut self,
        benches: &[(String, BorrowedFd<'_>)],
        output: &mut dyn Output,
    ) -> Result<(), RuntimeError> {
        let names: Vec<String> = benches.iter().map(|(name, _)| name.clone()).collect();
        for (index, (name, fd)) in benches.iter().enumerate() {
            let mut repeat = 1u32;
            loop {
                let run =
                    bpfhook::sys::prog_test_run_repeat(*fd, &PACKET, repeat).map_err(|error| {
                        RuntimeError::RunOnce {
                            probe: format!("bench:{name}"),
                            error,
                        }
                    })?;
                self.events.drain_all(|_| {})?;
                if run.retval != 0 {
                    break;
                }
                let total = Duration::from_nanos(u64::from(run.duration_ns) * u64::from(repeat));
                let factor = match total.as_micros() {
                    0 => 1000,
                    1..=9 => 100,
                    10..=99 => 10,
                    100..=999 => 2,
                    _ => 1,
                };
                if factor > 1 && repeat < MAX_REPEAT {
                    repeat = repeat.saturating_mul(factor).min(MAX_REPEAT);
                    continue;
                }
                output.benchmark(&names, index, u64::from(run.duration_ns), u64::from(repeat))?;
                break;
            }
        }
        Ok(())
    }
}
