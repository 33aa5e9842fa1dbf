//! Kernel addresses to names through /proc/kallsyms: the text symbols, sorted, indexed in place
//! (names stay in the text they were read from).

use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;

use super::table::{AddressTable, RawEntry};
use super::{Symbol, SymbolizeError};
use crate::kernel::kallsyms::{addresses_visible, Kallsyms};

/// Symbols marking where a text region ends: nothing past them is a function.
const END_MARKERS: &[&str] = &["_etext", "_einittext"];

/// kallsyms gives no sizes: a function reaches the next symbol. The last function of a module
/// has no next symbol in its module, so it is taken to reach at most this far.
const REGION_TAIL: u64 = 4096;

/// Every text symbol of the running kernel and its modules (BPF programs included, as module
/// `bpf`), looked up by binary search. [`Self::new`] only checks that addresses are visible;
/// the index is built on the first lookup, since the kernel takes 50–80 ms to generate
/// /proc/kallsyms (120k symbols, this VM) and indexing adds ~20 ms: a tool that never names
/// a kernel address never pays for it.
#[derive(Debug)]
pub struct KernelSymbolizer {
    index: OnceLock<Option<KernelIndex>>,
}

impl KernelSymbolizer {
    /// Fails at once when kptr_restrict hides kernel addresses (judged from the start of
    /// /proc/kallsyms, or the whole file when that start is all zeros).
    pub fn new() -> Result<Self, SymbolizeError> {
        let head = read_head().map_err(|error| SymbolizeError::Io {
            path: KALLSYMS.into(),
            error,
        })?;
        if addresses_visible(Kallsyms::from_text(head).symbols()) {
            return Ok(Self {
                index: OnceLock::new(),
            });
        }
        Self::from_kallsyms(read_kallsyms()?)
    }

    /// Indexes text in kallsyms format now; all-zero addresses (kptr_restrict) are an error.
    pub fn from_kallsyms(kallsyms: Kallsyms) -> Result<Self, SymbolizeError> {
        let index = KernelIndex::build(kallsyms)?;
        Ok(Self {
            index: OnceLock::from(Some(index)),
        })
    }

    /// The function holding `address`; `None` below the first symbol, in gaps between
    /// regions, past a region's end, and when /proc/kallsyms could not be indexed (logged).
    pub fn symbolize(&self, address: u64) -> Option<Symbol> {
        self.index().as_ref()?.symbolize(address)
    }

    /// How many symbols and boundaries the index holds (building it if need be).
    pub fn len(&self) -> usize {
        self.index().as_ref().map_or(0, |index| index.table.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn index(&self) -> &Option<KernelIndex> {
        self.index.get_or_init(|| {
            read_kallsyms()
                .and_then(KernelIndex::build)
                .inspect_err(|e| log::warn!("kernel symbols unavailable: {e}"))
                .ok()
        })
    }
}

const KALLSYMS: &str = "/proc/kallsyms";

fn read_kallsyms() -> Result<Kallsyms, SymbolizeError> {
    Kallsyms::read().map_err(|error| SymbolizeError::Io {
        path: KALLSYMS.into(),
        error,
    })
}

/// The first lines of /proc/kallsyms (the kernel generates it as it is read, so this is cheap).
fn read_head() -> std::io::Result<String> {
    let mut head = Vec::with_capacity(HEAD_BYTES);
    std::fs::File::open(KALLSYMS)?
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)?;
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// Enough for ~100 lines: past the per-CPU symbols that sit at address 0 legitimately.
const HEAD_BYTES: usize = 4096;

#[derive(Debug)]
struct KernelIndex {
    table: AddressTable,
    /// Region 0 is the kernel image; region `i` is module `modules[i - 1]`.
    modules: Vec<String>,
}

impl KernelIndex {
    fn build(kallsyms: Kallsyms) -> Result<Self, SymbolizeError> {
        if !addresses_visible(kallsyms.symbols()) {
            let kptr_restrict = std::fs::read_to_string("/proc/sys/kernel/kptr_restrict")
                .map_or_else(|_| "unknown".into(), |v| v.trim().to_owned());
            return Err(SymbolizeError::KernelAddressesHidden { kptr_restrict });
        }
        let base = kallsyms.text().as_ptr() as usize;
        let mut regions: HashMap<&str, u16> = HashMap::new();
        let mut modules = Vec::new();
        let mut raw = Vec::new();
        for symbol in kallsyms.symbols() {
            let region = match symbol.module {
                None => 0,
                Some(module) => match regions.get(module) {
                    Some(&region) => region,
                    None => {
                        let Ok(region) = u16::try_from(modules.len() + 1) else {
                            continue;
                        };
                        modules.push(module.to_owned());
                        regions.insert(module, region);
                        region
                    }
                },
            };
            let function = symbol.is_text() && !END_MARKERS.contains(&symbol.name);
            let (Ok(name_start), Ok(name_len)) = (
                u32::try_from(symbol.name.as_ptr() as usize - base),
                u16::try_from(symbol.name.len()),
            ) else {
                return Err(SymbolizeError::KallsymsTooLarge(kallsyms.text().len()));
            };
            raw.push(RawEntry {
                start: symbol.address,
                end: None,
                name_start,
                name_len: if function { name_len } else { 0 },
                region,
            });
        }
        Ok(Self {
            table: AddressTable::build(kallsyms.into_text(), raw, REGION_TAIL),
            modules,
        })
    }

    pub fn symbolize(&self, address: u64) -> Option<Symbol> {
        let hit = self.table.lookup(address)?;
        Some(Symbol {
            name: hit.name.to_owned(),
            offset: hit.offset,
            module: usize::from(hit.region)
                .checked_sub(1)
                .and_then(|i| self.modules.get(i))
                .cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexed(text: &str) -> KernelSymbolizer {
        KernelSymbolizer::from_kallsyms(Kallsyms::from_text(text.to_owned())).expect("index")
    }

    #[test]
    fn ends_regions_at_markers_data_and_module_tails() {
        let symbolizer = indexed(
            "ffffffff81000000 T _stext\n\
             ffffffff81000100 t helper\n\
             ffffffff81000200 T _etext\n\
             ffffffff81000300 D some_data\n\
             ffffffffa0000000 t mod_fn\t[nf_nat]\n",
        );
        let at = |address| symbolizer.symbolize(address);
        assert_eq!(at(0xffffffff80ffffff), None);
        let helper = at(0xffffffff81000108).expect("helper");
        assert_eq!(
            (helper.to_string(), helper.module),
            ("helper+8".into(), None)
        );
        assert_eq!(at(0xffffffff81000200), None);
        assert_eq!(at(0xffffffff81000301), None);
        let module = at(0xffffffffa0000010).expect("module function");
        assert_eq!(module.module.as_deref(), Some("nf_nat"));
        assert_eq!(at(0xffffffffa0000000 + REGION_TAIL), None);
    }

    #[test]
    fn refuses_hidden_addresses() {
        let error = KernelSymbolizer::from_kallsyms(Kallsyms::from_text(
            "0000000000000000 T _stext\n0000000000000000 t helper\n".into(),
        ))
        .expect_err("hidden");
        assert!(
            error
                .to_string()
                .starts_with("kernel addresses are hidden: kptr_restrict"),
            "{error}"
        );
    }
}
