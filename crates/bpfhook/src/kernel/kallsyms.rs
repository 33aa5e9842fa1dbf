//! /proc/kallsyms: every kernel symbol as `ADDRESS TYPE NAME [MODULE]`.
//!
//! Symbols borrow from the text they were parsed from, so searching 100k+ lines allocates
//! nothing per line. Addresses read as 0 unless the reader may see them (root with
//! kptr_restrict < 2, or CAP_SYSLOG); names and types are always there.

use std::path::Path;

const KALLSYMS: &str = "/proc/kallsyms";

/// One line of /proc/kallsyms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelSymbol<'a> {
    pub address: u64,
    /// The `nm`-style type letter: upper case global, lower case local.
    pub kind: char,
    pub name: &'a str,
    /// The module the symbol belongs to; `None` for the kernel image itself.
    pub module: Option<&'a str>,
}

impl<'a> KernelSymbol<'a> {
    /// Parses `ffffffff813eae90 t do_sys_openat2` or `… t nf_nat_ipv4_fn\t[nf_nat]`.
    pub fn parse(line: &'a str) -> Option<Self> {
        let mut fields = line.split_ascii_whitespace();
        let address = u64::from_str_radix(fields.next()?, 16).ok()?;
        let mut kind_field = fields.next()?.chars();
        let kind = kind_field.next()?;
        if kind_field.next().is_some() {
            return None;
        }
        let name = fields.next()?;
        let module = fields
            .next()
            .and_then(|m| m.strip_prefix('[')?.strip_suffix(']'));
        Some(Self {
            address,
            kind,
            name,
            module,
        })
    }

    /// Code (`T`/`t`): what kprobes can attach to.
    pub fn is_text(&self) -> bool {
        matches!(self.kind, 'T' | 't')
    }
}

/// The raw text of /proc/kallsyms, read once.
#[derive(Debug)]
pub struct Kallsyms {
    text: String,
}

impl Kallsyms {
    pub fn read() -> Result<Self, std::io::Error> {
        Self::read_from(Path::new(KALLSYMS))
    }

    /// Reads a file in kallsyms format (tests use a saved copy).
    pub fn read_from(path: &Path) -> Result<Self, std::io::Error> {
        // procfs reports size 0, so the buffer grows while reading; starting at 8 MiB (the
        // file is ~5 MB with 120k symbols) avoids copying it several times over.
        let mut text = String::with_capacity(8 << 20);
        std::io::Read::read_to_string(&mut std::fs::File::open(path)?, &mut text)?;
        Ok(Self { text })
    }

    pub fn from_text(text: String) -> Self {
        Self { text }
    }

    pub fn into_text(self) -> String {
        self.text
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every well-formed line, in file order.
    pub fn symbols(&self) -> impl Iterator<Item = KernelSymbol<'_>> {
        self.text.lines().filter_map(KernelSymbol::parse)
    }
}

/// What each type letter means (upper case global, lower case local), for `--legend`.
pub const LEGEND: &[(&str, &str)] = &[
    (
        "T t",
        "text: a function (global / local); kprobe and kretprobe can attach here, prefer T",
    ),
    ("D d", "initialised data (global / local)"),
    ("R r", "read-only data, rodata (global / local)"),
    ("B b", "uninitialised data, bss (global / local)"),
    (
        "W w",
        "weak symbol: a default another definition may override",
    ),
    ("V v", "weak object"),
    ("A a", "absolute: the value does not move with relocation"),
    ("U", "undefined: referenced here, defined elsewhere"),
    ("u", "unique global symbol"),
    ("i", "indirect function (chosen at load time)"),
    ("N n", "debugging symbol"),
    ("C c", "common symbol (uninitialised data)"),
];

/// Whether any symbol has a non-zero address: all zero means the kernel hides them from us.
pub fn addresses_visible<'a>(mut symbols: impl Iterator<Item = KernelSymbol<'a>>) -> bool {
    symbols.any(|s| s.address != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_and_module_lines() {
        assert_eq!(
            KernelSymbol::parse("ffffffff813eae90 t do_sys_openat2"),
            Some(KernelSymbol {
                address: 0xffffffff813eae90,
                kind: 't',
                name: "do_sys_openat2",
                module: None
            })
        );
        let module = KernelSymbol::parse("ffffffffa05ef110 t nf_conntrack_in\t[nf_conntrack]");
        assert_eq!(module.map(|s| s.module), Some(Some("nf_conntrack")));
        assert!(module.is_some_and(|s| s.is_text()));
        assert_eq!(
            KernelSymbol::parse("0000000000000000 D jiffies").map(|s| s.address),
            Some(0)
        );
        for bad in ["", "zzzz T x", "ffff TT x", "ffff T"] {
            assert_eq!(KernelSymbol::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reads_the_running_kernel() {
        let kallsyms = Kallsyms::read().expect("reading /proc/kallsyms");
        assert!(kallsyms.symbols().filter(|s| s.is_text()).count() > 1000);
    }
}
