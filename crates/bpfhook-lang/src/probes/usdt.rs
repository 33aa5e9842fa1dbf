//! `usdt:BINARY:[PROVIDER:]NAME`: the `.note.stapsdt` probes of a binary (through
//! `bpfhook::discover`), one instance per site, each with its argument locations parsed from
//! the note's assembler operands (`-4@%edi`, `8@-8(%rbp)`, `4@$5`) into places of `pt_regs`.

use std::path::Path;

use bpfhook::discover::{ElfBinary, Glob, UsdtSite};

use super::{canonical_name, is_pattern, no_matches, Lookup, ProbeInstance, ProbeKind};
use crate::sema::registers;
use crate::types::Type;

/// Where one argument of a probe site is, and its width and signedness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argument {
    /// In bytes: 1, 2, 4 or 8.
    pub size: u8,
    pub signed: bool,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A register, by its offset in `struct pt_regs`; `high_byte` for `%ah`-style registers
    /// (bits 8..16 of their register).
    Register { offset: i16, high_byte: bool },
    /// Memory at `base + index * scale + displacement` (registers by pt_regs offset).
    Memory {
        base: i16,
        index: Option<(i16, u8)>,
        displacement: i32,
    },
    /// A value the compiler knew: already truncated to the size and extended back.
    Constant(i64),
}

impl Argument {
    /// The type a script sees: the argument promoted to 64 bits, as bpftrace does.
    pub fn ty(&self) -> Type {
        if self.signed {
            Type::I64
        } else {
            Type::U64
        }
    }

    /// The type of the bytes as they are (what a register or memory read is cut to).
    pub fn narrow_type(&self) -> Type {
        Type::int(self.size * 8, self.signed)
    }
}

/// A note's argument string, one result per argument (one that cannot be read is an error
/// only where a script uses it).
pub fn parse_arguments(text: &str) -> Vec<Result<Argument, String>> {
    text.split_whitespace().map(parse_argument).collect()
}

fn parse_argument(spec: &str) -> Result<Argument, String> {
    let unreadable = |why: &str| Err(format!("`{spec}`: {why}"));
    // `N@operand`; notes of old sdt.h have no size (a long).
    let (size, operand) = match spec.split_once('@') {
        Some((size, operand)) => match size.parse::<i8>() {
            Ok(n @ (-8 | -4 | -2 | -1 | 1 | 2 | 4 | 8)) => (n, operand),
            _ => return unreadable("the size is not 1, 2, 4 or 8 bytes"),
        },
        None => (-8, spec),
    };
    let signed = size < 0;
    let size = size.unsigned_abs();
    let location = if let Some(register) = operand.strip_prefix('%') {
        let Some((offset, high_byte)) = register_place(register) else {
            return unreadable("not a general-purpose register");
        };
        Location::Register { offset, high_byte }
    } else if let Some(value) = operand.strip_prefix('$') {
        let Some(value) = parse_int(value) else {
            return unreadable("not an integer constant");
        };
        Location::Constant(cut(value, size, signed))
    } else if let Some((displacement, registers)) =
        operand.strip_suffix(')').and_then(|o| o.split_once('('))
    {
        let displacement = match displacement {
            "" => 0,
            text => match parse_int(text).and_then(|d| i32::try_from(d).ok()) {
                Some(d) => d,
                None => return unreadable("an address relative to a symbol is not supported"),
            },
        };
        let mut parts = registers.split(',');
        let base = parts.next().and_then(memory_register);
        let index = parts.next().map(memory_register);
        let scale = parts.next().map(str::parse::<u8>);
        let (Some(base), None) = (base, parts.next()) else {
            return unreadable("not a base register address");
        };
        let index = match (index, scale) {
            (None, None) => None,
            (Some(Some(index)), None) => Some((index, 1)),
            (Some(Some(index)), Some(Ok(scale @ (1 | 2 | 4 | 8)))) => Some((index, scale)),
            _ => return unreadable("not an index register and scale"),
        };
        Location::Memory {
            base,
            index,
            displacement,
        }
    } else {
        return unreadable("not a register, constant or register-relative address");
    };
    Ok(Argument {
        size,
        signed,
        location,
    })
}

/// A base or index register of an address: a 64-bit one (`%rip` is symbol-relative).
fn memory_register(text: &str) -> Option<i16> {
    match register_place(text.strip_prefix('%')?)? {
        (offset, false) if text != "%rip" => Some(offset),
        _ => None,
    }
}

/// A register by any of its x86-64 names (`rax`, `eax`, `ax`, `al`, `ah`, `r8d`, …): its
/// pt_regs offset and whether the value is its second byte.
fn register_place(name: &str) -> Option<(i16, bool)> {
    // pt_regs name, then the 64, 32, 16 and 8-bit names.
    const LEGACY: [[&str; 5]; 8] = [
        ["ax", "rax", "eax", "ax", "al"],
        ["bx", "rbx", "ebx", "bx", "bl"],
        ["cx", "rcx", "ecx", "cx", "cl"],
        ["dx", "rdx", "edx", "dx", "dl"],
        ["si", "rsi", "esi", "si", "sil"],
        ["di", "rdi", "edi", "di", "dil"],
        ["bp", "rbp", "ebp", "bp", "bpl"],
        ["sp", "rsp", "esp", "sp", "spl"],
    ];
    if let Some(names) = LEGACY.iter().find(|names| names[1..].contains(&name)) {
        return Some((registers::offset(names[0])?, false));
    }
    if let Some(high) = ["ah", "bh", "ch", "dh"].iter().find(|h| **h == name) {
        return Some((registers::offset(&format!("{}x", &high[..1]))?, true));
    }
    if matches!(name, "rip" | "eip") {
        return Some((registers::offset("ip")?, false));
    }
    // r8…r15 and their d/w/b (or l) parts.
    let number = name.strip_prefix('r')?;
    let digits = number.trim_end_matches(['d', 'w', 'b', 'l']);
    (number.len() - digits.len() <= 1)
        .then(|| registers::offset(&format!("r{digits}")))
        .flatten()
        .filter(|_| digits.parse::<u8>().is_ok_and(|n| (8..=15).contains(&n)))
        .map(|offset| (offset, false))
}

/// `-8`, `16`, `0x10`, `-0x10`.
fn parse_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let magnitude = match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<u64>().ok()?,
    };
    // Compilers print 64-bit constants either way (`$-1` or `$18446744073709551615`).
    let value = magnitude as i64;
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// `value` cut to `size` bytes, extended back to 64 bits as signed or not.
fn cut(value: i64, size: u8, signed: bool) -> i64 {
    let shift = 64 - u32::from(size) * 8;
    if shift == 0 {
        return value;
    }
    let high = value << shift;
    if signed {
        high >> shift
    } else {
        ((high as u64) >> shift) as i64
    }
}

/// The probes of `binary` (a path, a name in $PATH or a library; a glob in its last part
/// matches files of its directory) whose provider and name match (empty or `*`: any).
pub(super) fn expand(
    binary: &str,
    provider: Option<&str>,
    name: &str,
) -> Result<Vec<ProbeInstance>, Lookup> {
    let written = match provider {
        Some(provider) => format!("usdt:{binary}:{provider}:{name}"),
        None => format!("usdt:{binary}:{name}"),
    };
    let any = |text: Option<&str>| text.is_none_or(|t| t.is_empty() || t == "*");
    let glob = |text: &str| Glob::new(text).map_err(|e| Lookup::Failed(e.to_string()));
    let provider_glob = match provider {
        _ if any(provider) => None,
        Some(provider) => Some(glob(provider)?),
        None => None,
    };
    let name_glob = if any(Some(name)) {
        None
    } else {
        Some(glob(name)?)
    };
    let mut found = Vec::new();
    for file in binaries(binary, &written)? {
        let sites = bpfhook::discover::usdt_sites(&file).map_err(|e| e.to_string())?;
        let mut matched: Vec<&UsdtSite> = sites
            .iter()
            .filter(|s| {
                provider_glob
                    .as_ref()
                    .is_none_or(|g| g.matches(&s.probe.provider))
            })
            .filter(|s| name_glob.as_ref().is_none_or(|g| g.matches(&s.probe.name)))
            .collect();
        // `usdt:BIN:NAME` names one probe: in two providers it is ambiguous, as in bpftrace.
        if provider.is_none() && !is_pattern(name) {
            let mut providers: Vec<&str> =
                matched.iter().map(|s| s.probe.provider.as_str()).collect();
            providers.sort_unstable();
            providers.dedup();
            if providers.len() > 1 {
                return Err(Lookup::Failed(format!(
                    "{written} is ambiguous: providers {} all have a probe {name}; write usdt:{binary}:PROVIDER:{name}",
                    providers.join(", ")
                )));
            }
        }
        // Probes by provider and name; each probe's sites in note order.
        matched.sort_by(|a, b| {
            (&a.probe.provider, &a.probe.name).cmp(&(&b.probe.provider, &b.probe.name))
        });
        let mut previous: Option<(&str, &str)> = None;
        let mut site = 0;
        for s in matched {
            let this = (s.probe.provider.as_str(), s.probe.name.as_str());
            site = if previous == Some(this) { site + 1 } else { 0 };
            previous = Some(this);
            let kind = ProbeKind::Usdt {
                binary: file.path().to_path_buf(),
                provider: s.probe.provider.clone(),
                name: s.probe.name.clone(),
                address: s.address,
                semaphore: s.semaphore_offset,
                arguments: parse_arguments(&s.probe.arguments),
                site,
            };
            found.push(ProbeInstance {
                name: canonical_name(&kind),
                kind,
            });
        }
    }
    if found.is_empty() {
        return Err(no_matches(written));
    }
    Ok(found)
}

/// The ELF files `binary` names: itself, or those of its directory its last part matches
/// (files that are not ELF left out).
fn binaries(binary: &str, written: &str) -> Result<Vec<ElfBinary>, Lookup> {
    if !is_pattern(binary) {
        return ElfBinary::open(binary)
            .map(|b| vec![b])
            .map_err(|e| Lookup::Missing(format!("No matches for {written}: {e}.")));
    }
    let (dir, pattern) = binary.rsplit_once('/').unwrap_or((".", binary));
    if is_pattern(dir) {
        return Err(Lookup::Failed(format!(
            "{written}: a wildcard may only be in the binary's file name, not its directory"
        )));
    }
    let glob = Glob::new(pattern).map_err(|e| Lookup::Failed(e.to_string()))?;
    let dir_path = Path::new(if dir.is_empty() { "/" } else { dir });
    let entries = std::fs::read_dir(dir_path)
        .map_err(|e| Lookup::Missing(format!("No matches for {written}: {e}.")))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| glob.matches(n))
        .collect();
    names.sort();
    Ok(names
        .iter()
        .filter_map(|n| ElfBinary::open(&format!("{dir}/{n}")).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> Argument {
        parse_argument(spec).unwrap_or_else(|e| panic!("{e}"))
    }

    fn reg(name: &str) -> i16 {
        registers::offset(name).unwrap()
    }

    #[test]
    fn registers_of_every_width() {
        let di = Location::Register {
            offset: reg("di"),
            high_byte: false,
        };
        assert_eq!(
            one("-4@%edi"),
            Argument {
                size: 4,
                signed: true,
                location: di.clone()
            }
        );
        assert_eq!(one("8@%rdi").location, di);
        assert_eq!(one("1@%dil").location, di);
        assert_eq!(one("2@%di").location, di);
        assert_eq!(
            one("-2@%ax").location,
            Location::Register {
                offset: reg("ax"),
                high_byte: false
            }
        );
        assert_eq!(
            one("1@%ah").location,
            Location::Register {
                offset: reg("ax"),
                high_byte: true
            }
        );
        assert_eq!(
            one("4@%r10d").location,
            Location::Register {
                offset: reg("r10"),
                high_byte: false
            }
        );
        assert_eq!(one("8@%r15").size, 8);
        assert!(!one("8@%r15").signed);
        assert!(parse_argument("8@%r16").is_err());
        assert!(parse_argument("8@%xmm0").is_err());
    }

    #[test]
    fn memory_operands() {
        assert_eq!(
            one("-8@-8(%rbp)").location,
            Location::Memory {
                base: reg("bp"),
                index: None,
                displacement: -8
            }
        );
        assert_eq!(
            one("8@16(%rsp)").location,
            Location::Memory {
                base: reg("sp"),
                index: None,
                displacement: 16
            }
        );
        assert_eq!(
            one("4@(%rax)").location,
            Location::Memory {
                base: reg("ax"),
                index: None,
                displacement: 0
            }
        );
        assert_eq!(
            one("-4@-0x10(%rbp,%rax,4)").location,
            Location::Memory {
                base: reg("bp"),
                index: Some((reg("ax"), 4)),
                displacement: -16
            }
        );
        let symbolic = parse_argument("-4@counter(%rip)").unwrap_err();
        assert!(symbolic.contains("symbol"), "{symbolic}");
        assert!(parse_argument("4@8(%rax,%rbx,3)").is_err());
    }

    #[test]
    fn constants_are_cut_to_their_size_and_extended() {
        let constant = |spec| match one(spec).location {
            Location::Constant(n) => n,
            other => panic!("{other:?}"),
        };
        assert_eq!(constant("4@$5"), 5);
        assert_eq!(constant("8@$-579005069656919568"), -579005069656919568);
        assert_eq!(constant("4@$4092785136"), 4092785136);
        assert_eq!(constant("-4@$-202182160"), -202182160);
        assert_eq!(constant("2@$61936"), 61936);
        assert_eq!(constant("-2@$-3600"), -3600);
        assert_eq!(constant("1@$240"), 240);
        assert_eq!(constant("-1@$-16"), -16);
        assert_eq!(constant("1@$-16"), 240);
        assert_eq!(constant("-1@$240"), -16);
        assert_eq!(constant("8@$0x10"), 16);
    }

    #[test]
    fn a_note_string_is_one_result_per_argument() {
        let args = parse_arguments("-4@%edi 8@%rsi  3@%rax 8@$1");
        assert_eq!(args.len(), 4);
        assert!(args[0].is_ok() && args[1].is_ok() && args[3].is_ok());
        assert!(args[2].as_ref().unwrap_err().contains("size"));
        assert!(parse_arguments("").is_empty());
        assert_eq!(one("%rdi").size, 8);
        assert!(one("%rdi").signed);
        assert_eq!(one("-4@%edi").ty(), Type::I64);
        assert_eq!(one("4@%edi").ty(), Type::U64);
    }
}
