//! `uint` (little-endian unsigned, in decimal) and `hex` (bytes as lowercase hex).

use super::{unsigned, DecodeError, Decoded, Decoder};

pub struct Uint;

impl Decoder for Uint {
    fn decode(&self, input: &[u8]) -> Result<Decoded, DecodeError> {
        unsigned("uint", input).map(|v| Some(v.to_string()))
    }
}

pub struct Hex;

impl Decoder for Hex {
    fn decode(&self, input: &[u8]) -> Result<Decoded, DecodeError> {
        Ok(Some(input.iter().map(|b| format!("{b:02x}")).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        assert_eq!(Uint.decode(&[0x2a]).unwrap().unwrap(), "42");
        assert_eq!(Uint.decode(&[1, 1, 0, 0]).unwrap().unwrap(), "257");
        assert!(Uint.decode(&[1, 2, 3]).is_err());
        assert_eq!(Hex.decode(&[0xde, 0xad]).unwrap().unwrap(), "dead");
    }
}
