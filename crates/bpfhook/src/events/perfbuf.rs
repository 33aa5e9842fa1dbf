//! `BPF_MAP_TYPE_PERF_EVENT_ARRAY` reader: one `PERF_COUNT_SW_BPF_OUTPUT` perf event per online
//! CPU, its fd stored in the map at that CPU's index (where `bpf_perf_event_output` with
//! `BPF_F_CURRENT_CPU` looks), its ring mapped and parsed here.
//!
//! Each ring is a metadata page (`perf_event_mmap_page`: `data_head` written by the kernel,
//! `data_tail` by us) and a power-of-two data area mapped once, so a record that crosses the end
//! is copied into a scratch buffer to hand it out in one piece. Records are
//! `perf_event_header { u32 type; u16 misc; u16 size }` then the body:
//! `PERF_RECORD_SAMPLE` with `PERF_SAMPLE_RAW` is `u32 size; u8 data[size]` (the kernel pads
//! `size` so that `4 + size` is a multiple of 8: samples arrive up to 7 bytes longer than the
//! program wrote, as with libbpf); `PERF_RECORD_LOST` is `u64 id; u64 lost`.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use aya_obj::generated::{
    perf_event_attr, perf_event_mmap_page, perf_event_type, perf_sw_ids, perf_type_id,
};

use super::mapping::{page_size, Mapping};

const HEADER_LEN: usize = 8;
const SAMPLE: u32 = perf_event_type::PERF_RECORD_SAMPLE as u32;
const LOST: u32 = perf_event_type::PERF_RECORD_LOST as u32;

/// One record of a perf ring, as the reader hands it on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PerfRecord<'a> {
    Sample(&'a [u8]),
    /// The kernel had no room for this many samples.
    Lost(u64),
}

/// A header whose size cannot be right (shorter than a header, or past the data written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CorruptRecord {
    pub(crate) position: u64,
    pub(crate) size: u16,
}

/// The reader's view of one perf ring.
#[derive(Debug)]
pub(crate) struct PerfRingView {
    data_head: *const AtomicU64,
    data_tail: *const AtomicU64,
    data: *const u8,
    size: usize,
}

impl PerfRingView {
    /// # Safety
    /// `data_head`/`data_tail` must be valid, aligned u64s and `data` readable for `size`
    /// bytes (a power of two) for as long as the view is used; only this view stores the tail.
    pub(crate) unsafe fn new(
        data_head: *const AtomicU64,
        data_tail: *const AtomicU64,
        data: *const u8,
        size: usize,
    ) -> Self {
        Self {
            data_head,
            data_tail,
            data,
            size,
        }
    }

    /// Copies `out.len()` bytes starting at ring position `position`, wrapping at the end.
    fn copy_out(&self, position: u64, out: &mut [u8]) {
        let offset = (position as usize) & (self.size - 1);
        let first = out.len().min(self.size - offset);
        // SAFETY: both ranges lie inside the `size`-byte data area (offset + first <= size, and
        // the wrapped rest starts at 0 and is shorter than a record, itself at most `size`).
        unsafe {
            std::ptr::copy_nonoverlapping(self.data.add(offset), out.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(
                self.data,
                out.as_mut_ptr().add(first),
                out.len() - first,
            );
        }
    }

    /// Hands every record between our tail and the head read at the start to `each`, then
    /// releases them with one tail store. `scratch` holds records that wrap around the end;
    /// it grows to the largest such record once and is reused.
    pub(crate) fn consume(
        &self,
        scratch: &mut Vec<u8>,
        mut each: impl FnMut(PerfRecord<'_>),
    ) -> Result<u64, CorruptRecord> {
        // SAFETY: `new`'s contract keeps both positions valid.
        let (head, tail) = unsafe { (&*self.data_head, &*self.data_tail) };
        // Acquire pairs with the kernel's smp_wmb before it publishes data_head
        // (perf_output_put_handle): the records below the head are fully written.
        let end = head.load(Ordering::Acquire);
        // Relaxed: only this reader writes data_tail.
        let start = tail.load(Ordering::Relaxed);
        let mut position = start;
        let mut records = 0;
        let mut result = Ok(());
        while position < end {
            let mut header = [0u8; HEADER_LEN];
            self.copy_out(position, &mut header);
            let kind = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]);
            let size = u16::from_ne_bytes([header[6], header[7]]);
            let len = usize::from(size);
            if len < HEADER_LEN || len > self.size || (len as u64) > end - position {
                result = Err(CorruptRecord { position, size });
                break;
            }
            let offset = (position as usize) & (self.size - 1);
            let record: &[u8] = if offset + len <= self.size {
                // SAFETY: the record lies inside the data area, is fully written (below the
                // head) and is not reused by the kernel until the tail moves past it, after
                // `each` returns.
                unsafe { std::slice::from_raw_parts(self.data.add(offset), len) }
            } else {
                scratch.resize(len, 0);
                self.copy_out(position, scratch);
                scratch
            };
            let body = &record[HEADER_LEN..];
            match kind {
                SAMPLE => {
                    if let Some((raw_size, rest)) = body.split_first_chunk::<4>() {
                        let raw_size = u32::from_ne_bytes(*raw_size) as usize;
                        each(PerfRecord::Sample(&rest[..raw_size.min(rest.len())]));
                        records += 1;
                    }
                }
                LOST => {
                    if let Some(lost) = body.get(8..16).and_then(|b| b.try_into().ok()) {
                        each(PerfRecord::Lost(u64::from_ne_bytes(lost)));
                    }
                }
                // Throttle/unthrottle and the like carry nothing for us.
                _ => {}
            }
            position += len as u64;
        }
        if position != start {
            // Release: our reads of the records happen before the kernel sees the space free
            // (perf_output_begin reads data_tail, then a full barrier, then writes).
            tail.store(position, Ordering::Release);
        }
        result.map(|()| records)
    }
}

/// One CPU's perf event and its mapped ring.
#[derive(Debug)]
pub(crate) struct PerfCpuRing {
    // The view points into the mapping: declared first so nothing uses it after it unmaps.
    view: PerfRingView,
    _mapping: Mapping,
    event: OwnedFd,
    pub(crate) cpu: u32,
}

// SAFETY: the view's pointers lead only into the mapping owned by the same ring, which moves
// with it; nothing else in this process touches it.
unsafe impl Send for PerfCpuRing {}

impl PerfCpuRing {
    /// Opens the BPF-output perf event on `cpu` and maps 1 + `pages` pages of it.
    pub(crate) fn open(cpu: u32, pages: usize) -> io::Result<Self> {
        let page = page_size();
        if !pages.is_power_of_two() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("perf buffer pages must be a power of two, not {pages}"),
            ));
        }
        let event = open_bpf_output_event(cpu)?;
        let mapping = Mapping::new(
            event.as_fd(),
            page * (1 + pages),
            libc::PROT_READ | libc::PROT_WRITE,
            0,
        )?;
        let meta = mapping.as_ptr().cast::<perf_event_mmap_page>();
        // SAFETY: the first page is the kernel's perf_event_mmap_page; the data area of
        // `pages` pages follows it. The mapping lives as long as the view (same struct).
        let view = unsafe {
            PerfRingView::new(
                std::ptr::addr_of!((*meta).data_head).cast::<AtomicU64>(),
                std::ptr::addr_of!((*meta).data_tail).cast::<AtomicU64>(),
                mapping.as_ptr().add(page),
                page * pages,
            )
        };
        Ok(Self {
            view,
            _mapping: mapping,
            event,
            cpu,
        })
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.event.as_fd()
    }

    pub(crate) fn consume(
        &mut self,
        scratch: &mut Vec<u8>,
        each: impl FnMut(PerfRecord<'_>),
    ) -> Result<u64, CorruptRecord> {
        self.view.consume(scratch, each)
    }
}

fn open_bpf_output_event(cpu: u32) -> io::Result<OwnedFd> {
    // SAFETY: perf_event_attr is a plain C struct; all-zero is "every option off".
    let mut attr: perf_event_attr = unsafe { std::mem::zeroed() };
    attr.type_ = perf_type_id::PERF_TYPE_SOFTWARE as u32;
    attr.size = std::mem::size_of::<perf_event_attr>() as u32;
    attr.config = perf_sw_ids::PERF_COUNT_SW_BPF_OUTPUT as u64;
    attr.sample_type = aya_obj::generated::perf_event_sample_format::PERF_SAMPLE_RAW as u64;
    // Every output is a sample, and every sample wakes the reader (as libbpf does): latency
    // over batching, since a quiet program's single record must not sit in the ring.
    attr.__bindgen_anon_1.sample_period = 1;
    attr.__bindgen_anon_2.wakeup_events = 1;
    let cpu = i32::try_from(cpu).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // Every task on that CPU.
    crate::sys::perf_event_open(&attr, -1, cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FakeRing {
        head: AtomicU64,
        tail: AtomicU64,
        data: Vec<u8>,
    }

    impl FakeRing {
        fn new(size: usize) -> Self {
            Self {
                head: AtomicU64::new(0),
                tail: AtomicU64::new(0),
                data: vec![0; size],
            }
        }

        fn view(&self) -> PerfRingView {
            // SAFETY: the ring outlives the view in each test.
            unsafe {
                PerfRingView::new(&self.head, &self.tail, self.data.as_ptr(), self.data.len())
            }
        }

        fn push(&mut self, bytes: &[u8]) {
            let size = self.data.len();
            let position = self.head.load(Ordering::Relaxed);
            for (i, b) in bytes.iter().enumerate() {
                self.data[(position as usize + i) % size] = *b;
            }
            self.head
                .store(position + bytes.len() as u64, Ordering::Relaxed);
        }

        fn sample(&mut self, raw: &[u8]) {
            let size = (HEADER_LEN + 4 + raw.len()) as u16;
            let mut record = Vec::new();
            record.extend_from_slice(&SAMPLE.to_ne_bytes());
            record.extend_from_slice(&0u16.to_ne_bytes());
            record.extend_from_slice(&size.to_ne_bytes());
            record.extend_from_slice(&(raw.len() as u32).to_ne_bytes());
            record.extend_from_slice(raw);
            self.push(&record);
        }

        fn lost(&mut self, count: u64) {
            let mut record = Vec::new();
            record.extend_from_slice(&LOST.to_ne_bytes());
            record.extend_from_slice(&0u16.to_ne_bytes());
            record.extend_from_slice(&24u16.to_ne_bytes());
            record.extend_from_slice(&7u64.to_ne_bytes());
            record.extend_from_slice(&count.to_ne_bytes());
            self.push(&record);
        }
    }

    #[derive(Debug, PartialEq)]
    enum Seen {
        Sample(Vec<u8>),
        Lost(u64),
    }

    fn drain(ring: &FakeRing, scratch: &mut Vec<u8>) -> Vec<Seen> {
        let mut seen = Vec::new();
        ring.view()
            .consume(scratch, |r| {
                seen.push(match r {
                    PerfRecord::Sample(d) => Seen::Sample(d.to_vec()),
                    PerfRecord::Lost(n) => Seen::Lost(n),
                })
            })
            .expect("well-formed ring");
        seen
    }

    #[test]
    fn samples_and_losses_in_order() {
        let mut ring = FakeRing::new(128);
        ring.sample(b"abcd");
        ring.lost(3);
        ring.sample(b"efgh");
        let mut scratch = Vec::new();
        assert_eq!(
            drain(&ring, &mut scratch),
            vec![
                Seen::Sample(b"abcd".to_vec()),
                Seen::Lost(3),
                Seen::Sample(b"efgh".to_vec())
            ]
        );
        assert_eq!(ring.tail.load(Ordering::Relaxed), 16 + 24 + 16);
        assert!(scratch.is_empty(), "no record wrapped");
    }

    #[test]
    fn records_wrapping_in_the_header_or_the_body_come_out_whole() {
        for start in [100u64, 124, 126, 120] {
            let mut ring = FakeRing::new(128);
            ring.head.store(start + 128, Ordering::Relaxed);
            ring.tail.store(start + 128, Ordering::Relaxed);
            let raw: Vec<u8> = (1..=20).collect();
            ring.sample(&raw);
            ring.lost(9);
            let mut scratch = Vec::new();
            assert_eq!(
                drain(&ring, &mut scratch),
                vec![Seen::Sample(raw.clone()), Seen::Lost(9)],
                "record starting at offset {start}"
            );
        }
    }

    #[test]
    fn a_bad_size_stops_the_reader_with_an_error() {
        let mut ring = FakeRing::new(64);
        ring.push(&[9, 0, 0, 0, 0, 0, 4, 0]);
        let error = ring
            .view()
            .consume(&mut Vec::new(), |_| {})
            .expect_err("corrupt");
        assert_eq!(error.size, 4);
    }
}
