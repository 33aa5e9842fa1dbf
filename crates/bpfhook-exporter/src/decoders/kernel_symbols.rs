//! `ksym` (a kernel address as its function name) and `kstack` (an array of kernel addresses,
//! innermost first, zero-terminated, as one frame per line), through bpfhook's symbolizer.

use std::sync::OnceLock;

use bpfhook::symbolize::KernelSymbolizer;

use super::{unsigned, DecodeError, Decoded, Decoder};

/// Indexed on the first lookup and kept: kallsyms changes only when modules load.
fn symbolizer() -> Result<&'static KernelSymbolizer, DecodeError> {
    static SYMBOLIZER: OnceLock<Result<KernelSymbolizer, String>> = OnceLock::new();
    SYMBOLIZER
        .get_or_init(|| KernelSymbolizer::new().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| DecodeError::new("ksym", e.clone()))
}

fn name(address: u64) -> Result<String, DecodeError> {
    Ok(symbolizer()?
        .symbolize(address)
        .map_or_else(|| format!("0x{address:x}"), |s| s.name().to_owned()))
}

pub struct Ksym;

impl Decoder for Ksym {
    fn decode(&self, input: &[u8]) -> Result<Decoded, DecodeError> {
        name(unsigned("ksym", input)?).map(Some)
    }
}

pub struct Kstack;

impl Decoder for Kstack {
    fn decode(&self, input: &[u8]) -> Result<Decoded, DecodeError> {
        if !input.len().is_multiple_of(8) {
            return Err(DecodeError::new(
                "kstack",
                format!(
                    "expected an array of u64 addresses, got {} bytes",
                    input.len()
                ),
            ));
        }
        let frames = input
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .take_while(|&a| a != 0)
            .map(name)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(frames.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address /proc/kallsyms gives for a text symbol.
    fn address_of(name: &str) -> u64 {
        let text = std::fs::read_to_string("/proc/kallsyms").expect("kallsyms");
        text.lines()
            .find_map(|l| {
                let mut f = l.split_whitespace();
                let (address, kind, symbol) = (f.next()?, f.next()?, f.next()?);
                (symbol == name && kind.eq_ignore_ascii_case("t"))
                    .then(|| u64::from_str_radix(address, 16).ok())?
            })
            .expect("symbol in kallsyms")
    }

    #[test]
    fn names_kernel_functions_and_stacks() {
        let schedule = address_of("schedule");
        let decoded = Ksym.decode(&(schedule + 4).to_le_bytes()).unwrap();
        assert_eq!(decoded.as_deref(), Some("schedule"));
        let mut stack = Vec::new();
        for address in [schedule, address_of("do_exit"), 0, 0xdead] {
            stack.extend_from_slice(&address.to_le_bytes());
        }
        let decoded = Kstack.decode(&stack).unwrap();
        assert_eq!(
            decoded.as_deref(),
            Some("schedule\ndo_exit"),
            "stops at the first zero"
        );
        assert!(Kstack.decode(&[0; 7]).is_err());
    }
}
