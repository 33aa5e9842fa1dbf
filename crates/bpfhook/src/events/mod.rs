//! Everything a running object hands back, on one poll loop: `bpf_printk` lines from a private
//! trace instance, records from every ring buffer (`BPF_MAP_TYPE_RINGBUF`) and every perf event
//! array (`BPF_MAP_TYPE_PERF_EVENT_ARRAY`) of the object, and the losses the kernel reports.
//!
//! [`EventLoop::new`] looks through the loaded object's maps and opens a reader for each output
//! map; [`EventLoop::poll`] waits on all of them with one epoll and hands each record to the
//! sink as a borrowed [`Event`] — a slice straight into the kernel's ring (perf records that wrap
//! around the ring's end are first copied into one reused buffer), so there is no allocation per
//! record. Each ring is released once per batch, not once per record.
//!
//! # What gets counted, and what cannot be
//!
//! Per map ([`ChannelStats`]): records read, and for perf buffers records lost — the kernel
//! writes a `PERF_RECORD_LOST` with the count when it next has room, and it is passed on as
//! [`Event::Lost`] when it arrives.
//!
//! **Ring buffer drops are invisible to the reader.** When a ring buffer is full, the
//! producer's `bpf_ringbuf_reserve` (or `bpf_ringbuf_output`) fails and nothing is written, so
//! nothing tells the reader. A program that cares counts its failed reservations in a map of
//! its own, and/or numbers its records with a `u64` sequence field: given the field's offset
//! ([`EventOptions::seq_offset`], `--seq-offset N` on the command line) the loop counts the
//! numbers that never arrived ([`ChannelStats::seq_missing`]). Decoding records by their BTF
//! type (and finding such a field by name) is the decoding issue's job.
//!
//! Open the readers between `ManagerBuilder::load` and `Loaded::attach`: a perf event array has
//! no perf event at a CPU's index until its reader opens, so `bpf_perf_event_output` fails for
//! records written before that (ring buffers keep them).
//!
//! Perf samples carry the kernel's padding: a sample of `n` bytes arrives as the smallest
//! `m >= n` with `m + 4` a multiple of 8, as with libbpf.

mod channel;
mod epoll;
mod mapping;
mod perfbuf;
mod ringbuf;
mod seq;

use std::time::Duration;

pub use channel::{ChannelKind, ChannelStats};
pub(crate) use mapping::page_size;
pub use seq::SeqOffset;

use crate::kernel::tracefs::{PrintkLine, PrintkReader, TracefsError};
use channel::Channel;
use epoll::Epoll;

/// One item of output. Records borrow the kernel's ring: copy what must outlive the sink call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    Printk(PrintkLine),
    /// A record from a ring buffer (`cpu` is None) or a perf buffer (the CPU it was written on).
    Record {
        map: &'a str,
        cpu: Option<u32>,
        data: &'a [u8],
    },
    /// The kernel reports `count` perf records lost on `cpu` for lack of room.
    Lost {
        map: &'a str,
        cpu: u32,
        count: u64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error(transparent)]
    Tracefs(#[from] TracefsError),
    #[error("map `{map}`: {what}: {error}")]
    Setup {
        map: String,
        what: &'static str,
        #[source]
        error: std::io::Error,
    },
    #[error("epoll: {0}")]
    Epoll(#[source] std::io::Error),
    #[error("map `{map}`: corrupt record at ring position {position} ({detail}); reading stopped")]
    Corrupt {
        map: String,
        position: u64,
        detail: String,
    },
}

/// Which channels to read, and how.
#[derive(Debug, Clone)]
pub struct EventOptions {
    /// Read `bpf_printk` output (a private trace instance).
    pub printk: bool,
    /// Read the object's ring buffers and perf event arrays.
    pub records: bool,
    /// Data pages per CPU for each perf event array (a power of two; 64 pages = 256 KiB).
    pub perf_pages: usize,
    /// Where records carry a `u64` sequence number, for counting gaps.
    pub seq_offset: Option<SeqOffset>,
}

impl Default for EventOptions {
    fn default() -> Self {
        Self {
            printk: true,
            records: true,
            perf_pages: 64,
            seq_offset: None,
        }
    }
}

/// What an epoll token stands for.
#[derive(Debug, Clone, Copy)]
enum Source {
    Printk,
    /// Channel index, ring index within the channel.
    Channel(usize, usize),
}

/// Polls every output channel and hands events to a sink.
pub struct EventLoop {
    epoll: Epoll,
    sources: Vec<Source>,
    ready: Vec<u64>,
    printk: Option<PrintkReader>,
    channels: Vec<Channel>,
}

impl EventLoop {
    /// Opens the channels `options` asks for; `maps` are the loaded object's maps
    /// (`manager.maps()`), among which ring buffers and perf event arrays are found.
    pub fn new<'m>(
        options: &EventOptions,
        maps: impl IntoIterator<Item = (&'m str, &'m aya::maps::Map)>,
    ) -> Result<Self, EventsError> {
        let mut channels = Vec::new();
        if options.records {
            for (name, map) in maps {
                if let Some(channel) =
                    Channel::open(name, map, options.perf_pages, options.seq_offset)?
                {
                    channels.push(channel);
                }
            }
            // A stable order for summaries, whatever order the loader keeps its maps in.
            channels.sort_by(|a, b| a.name().cmp(b.name()));
        }
        let printk = options.printk.then(PrintkReader::new).transpose()?;

        let mut epoll = Epoll::new().map_err(EventsError::Epoll)?;
        let mut sources = Vec::new();
        if let Some(fd) = printk.as_ref().and_then(PrintkReader::fd) {
            epoll
                .add(fd, sources.len() as u64)
                .map_err(EventsError::Epoll)?;
            sources.push(Source::Printk);
        }
        for (index, channel) in channels.iter().enumerate() {
            for (fd, ring) in channel.fds() {
                epoll
                    .add(fd, sources.len() as u64)
                    .map_err(EventsError::Epoll)?;
                sources.push(Source::Channel(index, ring));
            }
        }
        Ok(Self {
            epoll,
            ready: Vec::with_capacity(sources.len()),
            sources,
            printk,
            channels,
        })
    }

    /// Waits up to `timeout` for output and hands every ready event to `sink`; returns how many
    /// records and lines it handed on. A zero timeout only drains what is ready.
    pub fn poll(
        &mut self,
        timeout: Duration,
        mut sink: impl FnMut(Event<'_>),
    ) -> Result<usize, EventsError> {
        if self.sources.is_empty() {
            std::thread::sleep(timeout);
            return Ok(0);
        }
        self.ready.clear();
        self.ready
            .extend(self.epoll.wait(timeout).map_err(EventsError::Epoll)?);
        let mut handed = 0;
        for index in 0..self.ready.len() {
            let token = self.ready[index];
            let Some(source) = usize::try_from(token)
                .ok()
                .and_then(|t| self.sources.get(t).copied())
            else {
                continue;
            };
            handed += self.drain_source(source, &mut sink)?;
        }
        Ok(handed)
    }

    /// Drains every channel without waiting, ready or not: the last read before stopping, so
    /// records whose wakeup has not been seen yet are counted too.
    pub fn drain_all(&mut self, mut sink: impl FnMut(Event<'_>)) -> Result<usize, EventsError> {
        let mut handed = 0;
        for index in 0..self.sources.len() {
            handed += self.drain_source(self.sources[index], &mut sink)?;
        }
        Ok(handed)
    }

    fn drain_source(
        &mut self,
        source: Source,
        sink: &mut impl FnMut(Event<'_>),
    ) -> Result<usize, EventsError> {
        match source {
            Source::Printk => match self.printk.as_mut() {
                Some(printk) => Ok(printk.drain(|line| sink(Event::Printk(line)))?),
                None => Ok(0),
            },
            Source::Channel(channel, ring) => match self.channels.get_mut(channel) {
                Some(channel) => {
                    let n = channel.drain(ring, sink)?;
                    Ok(usize::try_from(n).unwrap_or(usize::MAX))
                }
                None => Ok(0),
            },
        }
    }

    /// Counts per output map, in name order.
    pub fn stats(&self) -> Vec<ChannelStats> {
        self.channels.iter().map(Channel::stats).collect()
    }

    /// The output maps found, with how many rings each has (one per CPU for perf buffers).
    pub fn channels(&self) -> impl Iterator<Item = (&str, usize)> {
        self.channels.iter().map(|c| (c.name(), c.ring_count()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_loop_can_move_to_another_thread() {
        fn is_send<T: Send>() {}
        is_send::<super::EventLoop>();
    }
}
