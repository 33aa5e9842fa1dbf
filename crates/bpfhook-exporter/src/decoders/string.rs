//! `string`: a NUL-terminated (or NUL-padded) C string such as a task's comm.

use super::{DecodeError, Decoded, Decoder};

pub struct CString;

impl Decoder for CString {
    fn decode(&self, input: &[u8]) -> Result<Decoded, DecodeError> {
        let end = input.iter().position(|&b| b == 0).unwrap_or(input.len());
        Ok(Some(String::from_utf8_lossy(&input[..end]).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_nul() {
        assert_eq!(CString.decode(b"bash\0\0x").unwrap().unwrap(), "bash");
        assert_eq!(CString.decode(b"full").unwrap().unwrap(), "full");
    }
}
