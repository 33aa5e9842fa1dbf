//! Text to text: `static_map` (a fixed table, e.g. protocol numbers to names) and `regexp`
//! (keep the series only when the text matches one of the patterns).

use std::collections::HashMap;

use regex::RegexSet;

use super::{DecodeError, Decoded, Decoder};
use crate::config::DecoderConfig;

pub struct StaticMap {
    table: HashMap<String, String>,
    /// Unknown inputs pass through unchanged instead of being an error.
    allow_unknown: bool,
}

impl StaticMap {
    pub fn new(config: &DecoderConfig) -> Result<Self, String> {
        if config.static_map.is_empty() {
            return Err("static_map decoder without a `static_map:` table".into());
        }
        Ok(Self {
            table: config
                .static_map
                .iter()
                .map(|(k, v)| (k.0.clone(), v.clone()))
                .collect(),
            allow_unknown: config.allow_unknown,
        })
    }
}

impl Decoder for StaticMap {
    fn decode(&self, input: &[u8]) -> Result<Decoded, DecodeError> {
        let key = String::from_utf8_lossy(input);
        match self.table.get(key.as_ref()) {
            Some(value) => Ok(Some(value.clone())),
            None if self.allow_unknown => Ok(Some(key.into_owned())),
            None => Err(DecodeError::new(
                "static_map",
                format!("no entry for `{key}` (set allow_unknown: true to pass it through)"),
            )),
        }
    }
}

pub struct Regexps(RegexSet);

impl Regexps {
    pub fn new(config: &DecoderConfig) -> Result<Self, String> {
        if config.regexps.is_empty() {
            return Err("regexp decoder without `regexps:`".into());
        }
        RegexSet::new(&config.regexps)
            .map(Self)
            .map_err(|e| format!("regexps: {e}"))
    }
}

impl Decoder for Regexps {
    fn decode(&self, input: &[u8]) -> Result<Decoded, DecodeError> {
        let text = String::from_utf8_lossy(input);
        Ok(self.0.is_match(&text).then(|| text.into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Scalar;

    fn config(map: &[(&str, &str)], regexps: &[&str], allow_unknown: bool) -> DecoderConfig {
        DecoderConfig {
            name: String::new(),
            static_map: map
                .iter()
                .map(|(k, v)| (Scalar(k.to_string()), v.to_string()))
                .collect(),
            allow_unknown,
            regexps: regexps.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn table_lookup() {
        let strict = StaticMap::new(&config(&[("6", "tcp")], &[], false)).unwrap();
        assert_eq!(strict.decode(b"6").unwrap().unwrap(), "tcp");
        assert!(strict.decode(b"7").is_err());
        let loose = StaticMap::new(&config(&[("6", "tcp")], &[], true)).unwrap();
        assert_eq!(loose.decode(b"7").unwrap().unwrap(), "7");
    }

    #[test]
    fn regexps_keep_or_drop() {
        let keep = Regexps::new(&config(&[], &["^bash$", "^sh"], false)).unwrap();
        assert_eq!(keep.decode(b"bash").unwrap().as_deref(), Some("bash"));
        assert_eq!(keep.decode(b"zsh").unwrap(), None);
        assert!(Regexps::new(&config(&[], &["("], false)).is_err());
    }
}
