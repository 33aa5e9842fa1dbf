//! Gap counting from a sequence number the program writes into each record.
//!
//! Ring buffer drops are invisible to the reader, so a program that numbers its records (a
//! global counter bumped before `bpf_ringbuf_reserve`/`output`) lets us count what never came.
//! Records from several CPUs arrive out of order, so the count is not "jumps between
//! neighbours" but `highest - lowest + 1 - received`: exact once the stream is drained,
//! whatever the order, and O(1) per record.

/// Where the `u64` sequence number sits in each record (native byte order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqOffset(pub usize);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SeqTracker {
    lowest: u64,
    highest: u64,
    numbered: u64,
}

impl SeqTracker {
    pub(crate) fn observe(&mut self, offset: SeqOffset, record: &[u8]) {
        let Some(bytes) = record
            .get(offset.0..offset.0.saturating_add(8))
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
        else {
            return;
        };
        let seq = u64::from_ne_bytes(bytes);
        if self.numbered == 0 {
            (self.lowest, self.highest) = (seq, seq);
        } else {
            self.lowest = self.lowest.min(seq);
            self.highest = self.highest.max(seq);
        }
        self.numbered += 1;
    }

    /// Sequence numbers between the lowest and highest seen that never arrived.
    pub(crate) fn missing(&self) -> u64 {
        if self.numbered == 0 {
            return 0;
        }
        (self.highest - self.lowest + 1).saturating_sub(self.numbered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64) -> [u8; 12] {
        let mut r = [0u8; 12];
        r[4..].copy_from_slice(&seq.to_ne_bytes());
        r
    }

    #[test]
    fn counts_holes_whatever_the_arrival_order() {
        let mut t = SeqTracker::default();
        for seq in [5, 7, 6, 10, 9] {
            t.observe(SeqOffset(4), &record(seq));
        }
        assert_eq!(t.missing(), 1, "8 never came");
        t.observe(SeqOffset(4), &record(8));
        assert_eq!(t.missing(), 0);
    }

    #[test]
    fn short_records_are_not_numbered() {
        let mut t = SeqTracker::default();
        t.observe(SeqOffset(8), &record(1));
        assert_eq!(t, SeqTracker::default());
    }
}
