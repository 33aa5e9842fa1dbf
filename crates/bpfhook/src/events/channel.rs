//! One output map of the object (ring buffer or perf event array), its reader and its counts.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use aya::maps::{Map, MapData};

use super::perfbuf::{PerfCpuRing, PerfRecord};
use super::ringbuf::RingBufReader;
use super::seq::{SeqOffset, SeqTracker};
use super::{Event, EventsError};

/// Which kind of map a channel reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    RingBuf,
    PerfEventArray,
}

/// What one channel has delivered so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelStats {
    pub map: String,
    pub kind: ChannelKind,
    /// Records handed to the sink.
    pub records: u64,
    /// Records the kernel reported lost (perf buffers only: ring buffer drops happen in the
    /// producer, which sees `bpf_ringbuf_reserve` fail, and never reach the reader).
    pub lost: u64,
    /// With a sequence-number offset: numbers between the lowest and highest seen that never
    /// arrived.
    pub seq_missing: Option<u64>,
}

enum Reader {
    Ring(RingBufReader),
    Perf {
        cpus: Vec<PerfCpuRing>,
        /// Reused for records that wrap around a ring's end; shared by the map's CPUs.
        scratch: Vec<u8>,
    },
}

pub(crate) struct Channel {
    name: String,
    reader: Reader,
    records: u64,
    lost: u64,
    seq: Option<(SeqOffset, SeqTracker)>,
}

fn setup_error<'a>(map: &'a str, what: &'static str) -> impl FnOnce(io::Error) -> EventsError + 'a {
    move |error| EventsError::Setup {
        map: map.to_owned(),
        what,
        error,
    }
}

fn own_fd(name: &str, data: &MapData) -> Result<OwnedFd, EventsError> {
    // A duplicate of the map fd: the reader owns its own handle and does not borrow the Manager.
    data.fd()
        .as_fd()
        .try_clone_to_owned()
        .map_err(setup_error(name, "duplicating the map fd"))
}

fn max_entries(name: &str, data: &MapData) -> Result<u32, EventsError> {
    data.info()
        .map(|info| info.max_entries())
        .map_err(|e| EventsError::Setup {
            map: name.to_owned(),
            what: "reading the map's info",
            error: io::Error::other(e.to_string()),
        })
}

impl Channel {
    /// A reader for `map` if it is an output map (ring buffer or perf event array), else None.
    pub(crate) fn open(
        name: &str,
        map: &Map,
        perf_pages: usize,
        seq: Option<SeqOffset>,
    ) -> Result<Option<Self>, EventsError> {
        let reader = match map {
            Map::RingBuf(data) => {
                let size = max_entries(name, data)? as usize;
                let reader = RingBufReader::new(own_fd(name, data)?, size)
                    .map_err(setup_error(name, "mapping the ring buffer"))?;
                Reader::Ring(reader)
            }
            Map::PerfEventArray(data) => {
                let slots = max_entries(name, data)?;
                let map_fd = own_fd(name, data)?;
                let online = aya::util::online_cpus()
                    .map_err(|(_, error)| error)
                    .map_err(setup_error(name, "listing online CPUs"))?;
                let mut cpus = Vec::with_capacity(online.len());
                // CPUs past the map's size cannot be written to by the program; skip them.
                for cpu in online.into_iter().filter(|cpu| *cpu < slots) {
                    let ring = PerfCpuRing::open(cpu, perf_pages)
                        .map_err(setup_error(name, "opening a BPF-output perf event"))?;
                    let fd = u32::try_from(std::os::fd::AsRawFd::as_raw_fd(&ring.fd()))
                        .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
                        .map_err(setup_error(name, "storing the perf event"))?;
                    crate::sys::map_update(
                        map_fd.as_fd(),
                        &cpu.to_ne_bytes(),
                        &fd.to_ne_bytes(),
                        0,
                    )
                    .map_err(|e| EventsError::Setup {
                        map: name.to_owned(),
                        what: "storing the perf event fd in the map",
                        error: e.error,
                    })?;
                    cpus.push(ring);
                }
                Reader::Perf {
                    cpus,
                    scratch: Vec::new(),
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(Self {
            name: name.to_owned(),
            reader,
            records: 0,
            lost: 0,
            seq: seq.map(|offset| (offset, SeqTracker::default())),
        }))
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Every fd to wait on, with the ring index to pass back to `drain`.
    pub(crate) fn fds(&self) -> Vec<(std::os::fd::BorrowedFd<'_>, usize)> {
        match &self.reader {
            Reader::Ring(ring) => vec![(ring.fd(), 0)],
            Reader::Perf { cpus, .. } => cpus
                .iter()
                .enumerate()
                .map(|(i, ring)| (ring.fd(), i))
                .collect(),
        }
    }

    /// Drains ring `ring` (a CPU index into this channel's rings for perf buffers) into `sink`.
    pub(crate) fn drain(
        &mut self,
        ring: usize,
        sink: &mut impl FnMut(Event<'_>),
    ) -> Result<u64, EventsError> {
        let Self {
            name,
            reader,
            records,
            lost,
            seq,
        } = self;
        let map = name.as_str();
        match reader {
            Reader::Ring(reader) => {
                let n = reader
                    .consume(|data| {
                        if let Some((offset, tracker)) = seq.as_mut() {
                            tracker.observe(*offset, data);
                        }
                        sink(Event::Record {
                            map,
                            cpu: None,
                            data,
                        });
                    })
                    .map_err(|e| EventsError::Corrupt {
                        map: map.to_owned(),
                        position: e.position,
                        detail: format!("length word {:#x}", e.length),
                    })?;
                *records += n;
                Ok(n)
            }
            Reader::Perf { cpus, scratch } => {
                let Some(cpu_ring) = cpus.get_mut(ring) else {
                    return Ok(0);
                };
                let cpu = cpu_ring.cpu;
                let n = cpu_ring
                    .consume(scratch, |record| match record {
                        PerfRecord::Sample(data) => {
                            if let Some((offset, tracker)) = seq.as_mut() {
                                tracker.observe(*offset, data);
                            }
                            sink(Event::Record {
                                map,
                                cpu: Some(cpu),
                                data,
                            });
                        }
                        PerfRecord::Lost(count) => {
                            *lost += count;
                            sink(Event::Lost { map, cpu, count });
                        }
                    })
                    .map_err(|e| EventsError::Corrupt {
                        map: map.to_owned(),
                        position: e.position,
                        detail: format!("record size {}", e.size),
                    })?;
                *records += n;
                Ok(n)
            }
        }
    }

    /// How many rings `drain` takes indexes for.
    pub(crate) fn ring_count(&self) -> usize {
        match &self.reader {
            Reader::Ring(_) => 1,
            Reader::Perf { cpus, .. } => cpus.len(),
        }
    }

    pub(crate) fn stats(&self) -> ChannelStats {
        ChannelStats {
            map: self.name.clone(),
            kind: match self.reader {
                Reader::Ring(_) => ChannelKind::RingBuf,
                Reader::Perf { .. } => ChannelKind::PerfEventArray,
            },
            records: self.records,
            lost: self.lost,
            seq_missing: self.seq.as_ref().map(|(_, tracker)| tracker.missing()),
        }
    }
}
