//! `syscall`: a system call number as its name on this architecture.

use super::{unsigned, DecodeError, Decoded, Decoder};

pub struct Syscall;

impl Decoder for Syscall {
    fn decode(&self, input: &[u8]) -> Result<Decoded, DecodeError> {
        let number = unsigned("syscall", input)?;
        let name = u32::try_from(number)
            .ok()
            .and_then(|n| syscalls::Sysno::new(n as usize))
            .map_or_else(|| format!("unknown:{number}"), |s| s.name().to_owned());
        Ok(Some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_this_architecture() {
        let openat = syscalls::Sysno::openat.id() as u64;
        assert_eq!(
            Syscall.decode(&openat.to_le_bytes()).unwrap().unwrap(),
            "openat"
        );
        assert_eq!(
            Syscall.decode(&99_999u64.to_le_bytes()).unwrap().unwrap(),
            "unknown:99999"
        );
    }
}
