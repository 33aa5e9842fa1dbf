//! A sorted address table: non-overlapping `[start, end)` ranges, each naming a function (or a
//! gap), found by binary search. Names are ranges into one string, so a table of 100k symbols
//! is two allocations.

/// A symbol before the table is built.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawEntry {
    pub start: u64,
    /// `None`: it reaches the next symbol of its region (or `tail` bytes when it is the last).
    pub end: Option<u64>,
    /// Where the name lies in the table's string; empty marks a boundary: no function there.
    pub name_start: u32,
    pub name_len: u16,
    /// Symbols of one region (a kernel module, the kernel image, an ELF file) end at the next
    /// symbol only within that region.
    pub region: u16,
}

#[derive(Debug)]
pub(crate) struct AddressTable {
    names: String,
    entries: Vec<Entry>,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    start: u64,
    end: u64,
    name_start: u32,
    name_len: u16,
    region: u16,
}

/// What an address resolved to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hit<'a> {
    pub name: &'a str,
    pub offset: u64,
    pub region: u16,
}

impl AddressTable {
    /// Sorts `raw` by address; of several symbols at one address the first named one wins; each
    /// range is clipped at the next symbol, so ranges never overlap.
    pub fn build(names: String, mut raw: Vec<RawEntry>, tail: u64) -> Self {
        raw.sort_by_key(|e| e.start);
        raw.dedup_by(|later, kept| {
            if later.start != kept.start {
                return false;
            }
            if kept.name_len == 0 && later.name_len != 0 {
                std::mem::swap(kept, later);
            }
            true
        });
        let entries = raw
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let next = raw.get(i + 1);
                let reach = match next {
                    Some(next) if next.region == e.region => next.start,
                    _ => e.start.saturating_add(tail),
                };
                let end = e
                    .end
                    .map_or(reach, |end| end.min(next.map_or(end, |n| n.start)));
                Entry {
                    start: e.start,
                    end,
                    name_start: e.name_start,
                    name_len: e.name_len,
                    region: e.region,
                }
            })
            .collect();
        Self { names, entries }
    }

    pub fn lookup(&self, address: u64) -> Option<Hit<'_>> {
        let index = self.entries.partition_point(|e| e.start <= address);
        let entry = self.entries.get(index.checked_sub(1)?)?;
        if address >= entry.end || entry.name_len == 0 {
            return None;
        }
        let start = entry.name_start as usize;
        Some(Hit {
            name: self.names.get(start..start + usize::from(entry.name_len))?,
            offset: address - entry.start,
            region: entry.region,
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Collects names into one string for [`AddressTable::build`].
#[derive(Default)]
pub(crate) struct TableBuilder {
    names: String,
    raw: Vec<RawEntry>,
}

impl TableBuilder {
    /// Adds a function; names too long for the table (over 64 KiB) or past 4 GiB of names are
    /// left out rather than truncated.
    pub fn push(&mut self, start: u64, end: Option<u64>, name: &str, region: u16) {
        let (Ok(name_start), Ok(name_len)) =
            (u32::try_from(self.names.len()), u16::try_from(name.len()))
        else {
            return;
        };
        self.names.push_str(name);
        self.raw.push(RawEntry {
            start,
            end,
            name_start,
            name_len,
            region,
        });
    }

    pub fn build(self, tail: u64) -> AddressTable {
        AddressTable::build(self.names, self.raw, tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ranges_clips_overlaps_and_skips_gaps() {
        let mut builder = TableBuilder::default();
        builder.push(0x1000, Some(0x1100), "a", 0);
        builder.push(0x1050, None, "inner", 0); // clips `a` at 0x1050
        builder.push(0x1080, Some(0x1090), "", 0); // a boundary
        builder.push(0x2000, None, "last", 1);
        builder.push(0x2000, Some(0x2001), "alias", 1);
        let table = builder.build(0x10);
        let at = |address| table.lookup(address).map(|hit| (hit.name, hit.offset));
        assert_eq!(at(0xfff), None);
        assert_eq!(at(0x1000), Some(("a", 0)));
        assert_eq!(at(0x104f), Some(("a", 0x4f)));
        assert_eq!(at(0x1051), Some(("inner", 1)));
        assert_eq!(at(0x1085), None);
        assert_eq!(at(0x1500), None);
        assert_eq!(at(0x200f), Some(("last", 0xf)));
        assert_eq!(at(0x2010), None);
        assert_eq!(table.len(), 4);
    }
}
