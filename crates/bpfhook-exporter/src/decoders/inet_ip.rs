//! `inet_ip`: 4 bytes as an IPv4 address, 16 as IPv6 (network byte order, as the kernel keeps
//! them in socket fields).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{DecodeError, Decoded, Decoder};

pub struct InetIp;

impl Decoder for InetIp {
    fn decode(&self, input: &[u8]) -> Result<Decoded, DecodeError> {
        if let Ok(v4) = <[u8; 4]>::try_from(input) {
            return Ok(Some(Ipv4Addr::from(v4).to_string()));
        }
        if let Ok(v6) = <[u8; 16]>::try_from(input) {
            return Ok(Some(Ipv6Addr::from(v6).to_string()));
        }
        Err(DecodeError::new(
            "inet_ip",
            format!("expected 4 or 16 bytes, got {}", input.len()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_families() {
        assert_eq!(InetIp.decode(&[10, 0, 0, 1]).unwrap().unwrap(), "10.0.0.1");
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(InetIp.decode(&v6).unwrap().unwrap(), "::1");
        assert!(InetIp.decode(&[1, 2]).is_err());
    }
}
