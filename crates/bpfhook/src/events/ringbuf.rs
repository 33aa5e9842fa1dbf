//! `BPF_MAP_TYPE_RINGBUF` consumer: the kernel's ring mapped into our address space, records
//! handed out in place.
//!
//! Layout (kernel/bpf/ringbuf.c): page 0 holds `consumer_pos`, which only the reader writes
//! (mapped read-write); page 1 holds `producer_pos`, written by the kernel (read-only); the
//! data area of `size` bytes follows and the kernel maps it twice in a row, so a record that
//! runs past the end of the ring continues in the second copy and is contiguous to us.
//! Each record is an 8-byte header — a length word with a BUSY bit (reserved, not yet
//! committed) and a DISCARD bit (`bpf_ringbuf_discard`), then the page offset the kernel uses
//! — followed by the payload, padded to 8 bytes. Positions only grow; `pos & (size - 1)` is
//! the offset into the data area.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::mapping::{page_size, Mapping};

const BUSY_BIT: u32 = 1 << 31;
const DISCARD_BIT: u32 = 1 << 30;
const HEADER_LEN: usize = 8;

/// A record header claimed a length larger than the ring: the memory is not a ring buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CorruptRecord {
    pub(crate) position: u64,
    pub(crate) length: u32,
}

/// The consumer's view of one ring: the two positions and the twice-mapped data area.
///
/// It holds raw pointers because the kernel writes this memory concurrently: only records that
/// are committed and not yet released are ever turned into Rust slices.
#[derive(Debug)]
pub(crate) struct RingView {
    consumer_pos: *const AtomicU64,
    producer_pos: *const AtomicU64,
    /// Start of the data area, readable for `2 * size` bytes.
    data: *const u8,
    size: usize,
}

impl RingView {
    /// # Safety
    /// The positions must be valid, 8-aligned u64s and `data` readable and 8-aligned for
    /// `2 * size` bytes, with byte `i + size` always equal to byte `i` (the double mapping), for
    /// as long as the view is used; `size` must be a power of two; only this view may store the
    /// consumer position.
    pub(crate) unsafe fn new(
        consumer_pos: *const AtomicU64,
        producer_pos: *const AtomicU64,
        data: *const u8,
        size: usize,
    ) -> Self {
        Self {
            consumer_pos,
            producer_pos,
            data,
            size,
        }
    }

    /// Hands every committed record, from the consumer position up to the producer position,
    /// to `each`, releasing each batch with one store; then looks at the producer position again
    /// and goes on while it moved. Stops early at a record still being written (BUSY): records
    /// after it wait for the next call, so order is kept. Returns how many records `each` saw
    /// (discarded ones are skipped, not counted).
    ///
    /// Why look again: the kernel wakes the reader only when a record commits at the consumer
    /// position it reads then. A record reserved after our producer load, or one we saw BUSY,
    /// committed before our consumer store sees an old position and wakes nobody; unread, it
    /// would hold every later record back too (each commits past the consumer position).
    pub(crate) fn consume(&self, mut each: impl FnMut(&[u8])) -> Result<u64, CorruptRecord> {
        // SAFETY: `new`'s contract keeps both positions valid.
        let (consumer, producer) = unsafe { (&*self.consumer_pos, &*self.producer_pos) };
        // Relaxed: this reader is the only writer of consumer_pos, so it reads back its own store.
        let mut position = consumer.load(Ordering::Relaxed);
        let mask = (self.size - 1) as u64;
        let mut records = 0;
        loop {
            let start = position;
            // Acquire pairs with the kernel's release store of producer_pos in
            // bpf_ringbuf_reserve: every header below `end` (at least its BUSY length word) is
            // visible to the loads below.
            let end = producer.load(Ordering::Acquire);
            let mut stopped = Ok(false);
            while position < end {
                let offset = (position & mask) as usize;
                // SAFETY: offset < size and records are 8-aligned, so the 4-byte length word
                // lies inside the data area and is aligned for an atomic load.
                let length_word = unsafe { &*self.data.add(offset).cast::<AtomicU32>() };
                // Acquire pairs with the kernel's xchg of the length word in bpf_ringbuf_commit
                // (a full barrier after the program wrote the payload): once BUSY is seen clear,
                // the payload bytes are visible too.
                let word = length_word.load(Ordering::Acquire);
                if word & BUSY_BIT != 0 {
                    // Not committed yet. Stopping (rather than skipping) keeps records in order;
                    // the kernel wakes us when this record commits, since it is where we stop
                    // (once the store below is visible: see the check after it).
                    stopped = Ok(true);
                    break;
                }
                let length = (word & !(BUSY_BIT | DISCARD_BIT)) as usize;
                if length > self.size - HEADER_LEN {
                    stopped = Err(CorruptRecord {
                        position,
                        length: word,
                    });
                    break;
                }
                if word & DISCARD_BIT == 0 {
                    // SAFETY: header + payload fit in `size` bytes from `offset < size`, so
                    // within the doubly mapped `2 * size`; the record is committed and the
                    // kernel will not touch it until we move consumer_pos past it, which happens
                    // after `each` returns.
                    let payload = unsafe {
                        std::slice::from_raw_parts(self.data.add(offset + HEADER_LEN), length)
                    };
                    each(payload);
                    records += 1;
                }
                position += round_up_8(HEADER_LEN + length) as u64;
            }
            if position != start {
                // Release: every read of the records above happens before the producer can see
                // their space as free (it acquire-loads consumer_pos in reserve) and overwrite
                // it. One store per batch instead of one per record saves a cache-line write the
                // producer's CPU would otherwise have to fetch back on every reservation.
                consumer.store(position, Ordering::Release);
            }
            let busy = stopped?;
            // The store above and the loads below must not pass each other (a store-load
            // reordering would reopen the windows these checks close).
            std::sync::atomic::fence(Ordering::SeqCst);
            let more = if busy {
                // A commit that cleared BUSY after we saw it but read the consumer position
                // before our store woke nobody: look at the record again.
                // SAFETY: as for the length word above; `position` has not moved since.
                let word = unsafe {
                    &*self
                        .data
                        .add((position & mask) as usize)
                        .cast::<AtomicU32>()
                };
                word.load(Ordering::Acquire) & BUSY_BIT == 0
            } else {
                producer.load(Ordering::Acquire) != position
            };
            if !more {
                return Ok(records);
            }
        }
    }
}

fn round_up_8(n: usize) -> usize {
    (n + 7) & !7
}

/// A ring buffer map, mapped and ready to consume.
#[derive(Debug)]
pub(crate) struct RingBufReader {
    // The view points into the mappings: declared first so nothing uses it after they unmap.
    view: RingView,
    _consumer: Mapping,
    _producer: Mapping,
    map: OwnedFd,
}

// SAFETY: the view's pointers lead only into the mappings owned by the same reader, which move
// with it; nothing else in this process touches them.
unsafe impl Send for RingBufReader {}

impl RingBufReader {
    /// Maps the ring of `map`, a ring buffer map whose data area is `size` bytes (its
    /// max_entries: a power-of-two multiple of the page size).
    pub(crate) fn new(map: OwnedFd, size: usize) -> std::io::Result<Self> {
        let page = page_size();
        if !size.is_power_of_two() || size < page {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("ring buffer size {size} is not a power-of-two multiple of the page size"),
            ));
        }
        let consumer = Mapping::new(map.as_fd(), page, libc::PROT_READ | libc::PROT_WRITE, 0)?;
        // The kernel refuses write access past the consumer page; it maps the data twice.
        let producer = Mapping::new(map.as_fd(), page + 2 * size, libc::PROT_READ, page)?;
        // SAFETY: consumer_pos is the first u64 of the consumer page and producer_pos the first
        // of the producer page (page-aligned); the data area follows the producer page and is
        // mapped twice (2 * size bytes, included in the mapping's length). The mappings live as
        // long as the view (same struct, dropped after it). Only this reader stores consumer_pos.
        let view = unsafe {
            RingView::new(
                consumer.as_ptr().cast::<AtomicU64>(),
                producer.as_ptr().cast::<AtomicU64>(),
                producer.as_ptr().add(page),
                size,
            )
        };
        debug_assert_eq!(producer.len(), page + 2 * size);
        Ok(Self {
            view,
            _consumer: consumer,
            _producer: producer,
            map,
        })
    }

    /// The map fd: epoll reports it readable while records wait.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.map.as_fd()
    }

    pub(crate) fn consume(&mut self, each: impl FnMut(&[u8])) -> Result<u64, CorruptRecord> {
        self.view.consume(each)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Synthetic ring memory: the kernel's double mapping emulated by writing every byte twice.
    struct FakeRing {
        consumer: AtomicU64,
        producer: AtomicU64,
        data: Vec<u64>,
        size: usize,
    }

    impl FakeRing {
        fn new(size: usize) -> Box<Self> {
            Box::new(Self {
                consumer: AtomicU64::new(0),
                producer: AtomicU64::new(0),
                data: vec![0; 2 * size / 8],
                size,
            })
        }

        fn view(&self) -> RingView {
            // SAFETY: the box outlives every view in these tests; `put` keeps both copies equal.
            unsafe {
                RingView::new(
                    &self.consumer,
                    &self.producer,
                    self.data.as_ptr().cast(),
                    self.size,
                )
            }
        }

        fn put(&mut self, position: u64, bytes: &[u8]) {
            let data: &mut [u8] = bytemuck_bytes(&mut self.data);
            for (i, b) in bytes.iter().enumerate() {
                let offset = (position as usize + i) & (self.size - 1);
                data[offset] = *b;
                data[offset + self.size] = *b;
            }
        }

        /// Appends a record as the kernel would (header, payload, padding) and returns its position.
        fn produce(&mut self, payload: &[u8], flags: u32) -> u64 {
            let position = self.producer.load(Ordering::Relaxed);
            let word = payload.len() as u32 | flags;
            self.put(position, &word.to_ne_bytes());
            self.put(position + 4, &0u32.to_ne_bytes());
            self.put(position + 8, payload);
            let next = position + round_up_8(HEADER_LEN + payload.len()) as u64;
            self.producer.store(next, Ordering::Relaxed);
            position
        }
    }

    fn bytemuck_bytes(words: &mut [u64]) -> &mut [u8] {
        // SAFETY: u8 has no alignment or validity requirements; the length covers the same bytes.
        unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), words.len() * 8) }
    }

    fn drain(ring: &FakeRing) -> Vec<Vec<u8>> {
        let mut seen = Vec::new();
        ring.view()
            .consume(|r| seen.push(r.to_vec()))
            .expect("well-formed ring");
        seen
    }

    #[test]
    fn reads_records_in_order_and_releases_once() {
        let mut ring = FakeRing::new(64);
        ring.produce(b"one", 0);
        ring.produce(b"twotwo", 0);
        assert_eq!(drain(&ring), vec![b"one".to_vec(), b"twotwo".to_vec()]);
        assert_eq!(ring.consumer.load(Ordering::Relaxed), 32);
        assert!(drain(&ring).is_empty());
    }

    #[test]
    fn a_record_across_the_end_is_contiguous() {
        let mut ring = FakeRing::new(64);
        // Move both positions near the end: the next record starts 16 bytes before it.
        ring.producer.store(48 + 64 * 3, Ordering::Relaxed);
        ring.consumer.store(48 + 64 * 3, Ordering::Relaxed);
        let payload: Vec<u8> = (0..30).collect();
        ring.produce(&payload, 0);
        assert_eq!(drain(&ring), vec![payload]);
        assert_eq!(ring.consumer.load(Ordering::Relaxed), 48 + 64 * 3 + 40);
    }

    #[test]
    fn stops_at_a_busy_record_and_skips_discarded_ones() {
        let mut ring = FakeRing::new(128);
        ring.produce(b"kept", 0);
        ring.produce(b"dropped", DISCARD_BIT);
        let busy = ring.produce(b"pending", BUSY_BIT);
        ring.produce(b"after", 0);
        assert_eq!(drain(&ring), vec![b"kept".to_vec()]);
        assert_eq!(ring.consumer.load(Ordering::Relaxed), busy);
        // The producer commits: clearing BUSY releases it and the record after it, in order.
        ring.put(busy, &7u32.to_ne_bytes());
        assert_eq!(drain(&ring), vec![b"pending".to_vec(), b"after".to_vec()]);
    }

    #[test]
    fn a_record_committed_during_the_pass_is_read_in_the_same_call() {
        let mut ring = FakeRing::new(128);
        ring.produce(b"first", 0);
        let ring_ptr: *mut FakeRing = &mut *ring;
        let mut seen = Vec::new();
        ring.view()
            .consume(|r| {
                if seen.is_empty() {
                    // A producer racing the reader: its record lands after `end` was read, so
                    // the kernel would not wake us for it.
                    // SAFETY: single-threaded; the view reads through raw pointers only and the
                    // record written lies past everything it is reading now.
                    unsafe { (*ring_ptr).produce(b"racing", 0) };
                }
                seen.push(r.to_vec());
            })
            .expect("well-formed ring");
        assert_eq!(seen, vec![b"first".to_vec(), b"racing".to_vec()]);
        assert_eq!(
            ring.consumer.load(Ordering::Relaxed),
            ring.producer.load(Ordering::Relaxed)
        );
    }

    #[test]
    fn an_impossible_length_is_an_error_not_a_read_out_of_bounds() {
        let mut ring = FakeRing::new(64);
        ring.put(0, &1000u32.to_ne_bytes());
        ring.producer.store(8, Ordering::Relaxed);
        let error = ring.view().consume(|_| {}).expect_err("corrupt");
        assert_eq!(error.length, 1000);
    }
}
