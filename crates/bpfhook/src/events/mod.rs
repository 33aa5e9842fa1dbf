//! Everything a running object hands back, on one poll loop. Today: `bpf_printk` lines from a
//! private trace instance.

use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::kernel::tracefs::{PrintkLine, PrintkReader, TracefsError};

/// One item of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Printk(PrintkLine),
}

/// Polls every output channel and hands events to a sink.
pub struct EventLoop {
    printk: Option<PrintkReader>,
}

impl EventLoop {
    /// With `printk`, opens a private trace instance for `bpf_printk` output.
    pub fn new(printk: bool) -> Result<Self, TracefsError> {
        Ok(Self {
            printk: printk.then(PrintkReader::new).transpose()?,
        })
    }

    /// Waits up to `timeout` for output and hands every ready event to `sink`; returns how many.
    /// A zero timeout only drains what is ready.
    pub fn poll(
        &mut self,
        timeout: Duration,
        mut sink: impl FnMut(Event),
    ) -> Result<usize, TracefsError> {
        let Some(printk) = self.printk.as_mut() else {
            std::thread::sleep(timeout);
            return Ok(0);
        };
        if let Some(fd) = printk.fd() {
            let mut pfd = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
            // SAFETY: one valid pollfd; an EINTR return just ends this wait early.
            unsafe { libc::poll(&mut pfd, 1, millis) };
        }
        printk.drain(|line| sink(Event::Printk(line)))
    }
}
