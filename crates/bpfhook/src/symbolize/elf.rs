//! ELF facts shared by symbolization and uprobes: where loadable segments sit in the file and
//! in memory, and the function symbols of `.symtab`/`.dynsym`.

use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};

/// One PT_LOAD segment: `file_size` bytes at file `offset`, loaded at virtual `address`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadSegment {
    pub address: u64,
    pub offset: u64,
    pub file_size: u64,
}

/// The loadable segments of an ELF file, to turn virtual addresses into file offsets (where a
/// uprobe goes) and back (where a mapped address lies in the symbol table's terms).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadSegments(Vec<LoadSegment>);

impl LoadSegments {
    pub fn of(elf: &object::File<'_>) -> Self {
        Self(
            elf.segments()
                .map(|s| {
                    let (offset, file_size) = s.file_range();
                    LoadSegment {
                        address: s.address(),
                        offset,
                        file_size,
                    }
                })
                .collect(),
        )
    }

    pub fn from_segments(segments: Vec<LoadSegment>) -> Self {
        Self(segments)
    }

    /// The file offset holding virtual address `address`.
    pub fn file_offset(&self, address: u64) -> Option<u64> {
        self.0.iter().find_map(|s| {
            let into = address.checked_sub(s.address)?;
            (into < s.file_size).then(|| s.offset + into)
        })
    }

    /// The virtual address the byte at file `offset` is loaded at.
    pub fn address(&self, offset: u64) -> Option<u64> {
        self.0.iter().find_map(|s| {
            let into = offset.checked_sub(s.offset)?;
            (into < s.file_size).then(|| s.address + into)
        })
    }
}

/// A defined function symbol: a name, a virtual address and a size (0 when unknown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FunctionSymbol<'data> {
    pub name: &'data str,
    pub address: u64,
    pub size: u64,
}

/// Defined function symbols of `.symtab` then `.dynsym` (both, in that order; a name may
/// appear in each).
pub fn function_symbols<'file, 'data>(
    elf: &'file object::File<'data>,
) -> impl Iterator<Item = FunctionSymbol<'data>> + 'file {
    elf.symbols()
        .chain(elf.dynamic_symbols())
        .filter(|s| s.kind() == SymbolKind::Text && !s.is_undefined() && s.address() != 0)
        .filter_map(|s| {
            Some(FunctionSymbol {
                name: s.name().ok().filter(|n| !n.is_empty())?,
                address: s.address(),
                size: s.size(),
            })
        })
}

/// Whether the file has a `.symtab` (stripped binaries keep only `.dynsym`).
pub fn has_symtab(elf: &object::File<'_>) -> bool {
    elf.symbol_table().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_addresses_to_offsets_and_back() {
        let segments = LoadSegments::from_segments(vec![
            LoadSegment {
                address: 0x0,
                offset: 0x0,
                file_size: 0x600,
            },
            LoadSegment {
                address: 0x1000,
                offset: 0x1000,
                file_size: 0x200,
            },
            LoadSegment {
                address: 0x403000,
                offset: 0x3000,
                file_size: 0x100,
            },
        ]);
        assert_eq!(segments.file_offset(0x1139), Some(0x1139));
        assert_eq!(segments.file_offset(0x403010), Some(0x3010));
        assert_eq!(segments.file_offset(0x2000), None);
        assert_eq!(segments.address(0x3010), Some(0x403010));
        assert_eq!(segments.address(0x2000), None);
    }
}
