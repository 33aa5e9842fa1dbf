//! `majorminor`: a kernel dev_t (major << 20 | minor, as block tracepoints carry it) as the
//! block device's name (`nvme0n1`), or `MAJOR:MINOR` when /sys does not know it.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{unsigned, DecodeError, Decoded, Decoder};

const MINOR_BITS: u64 = 20;

pub struct MajorMinor {
    names: Mutex<HashMap<u64, String>>,
}

impl MajorMinor {
    pub fn new() -> Self {
        Self {
            names: Mutex::new(HashMap::new()),
        }
    }
}

impl Decoder for MajorMinor {
    fn decode(&self, input: &[u8]) -> Result<Decoded, DecodeError> {
        let dev = unsigned("majorminor", input)?;
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        let name = names.entry(dev).or_insert_with(|| device_name(dev));
        Ok(Some(name.clone()))
    }
}

fn device_name(dev: u64) -> String {
    let numbers = format!("{}:{}", dev >> MINOR_BITS, dev & ((1 << MINOR_BITS) - 1));
    std::fs::read_to_string(format!("/sys/dev/block/{numbers}/uevent"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("DEVNAME=").map(str::to_owned))
        })
        .unwrap_or(numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_devices_print_their_numbers() {
        let dev: u64 = (4000 << MINOR_BITS) | 7;
        let decoded = MajorMinor::new()
            .decode(&(dev as u32).to_le_bytes())
            .unwrap();
        assert_eq!(decoded.as_deref(), Some("4000:7"));
    }
}
