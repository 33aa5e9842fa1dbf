//! Decoders turn the bytes of one label's slice of a map key into the label's text, as
//! ebpf_exporter's do: the first decoder of a chain reads the raw bytes, each next one the text
//! the previous produced. A decoder may also drop the whole series (`regexp` that does not
//! match).

mod cgroup;
mod inet_ip;
mod kernel_symbols;
mod majorminor;
mod numbers;
mod static_map;
mod string;
mod syscall;

use crate::config::DecoderConfig;

pub use cgroup::CgroupPaths;

/// What a decoder made of its input.
pub type Decoded = Option<String>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{decoder}: {reason}")]
pub struct DecodeError {
    pub decoder: &'static str,
    pub reason: String,
}

impl DecodeError {
    pub fn new(decoder: &'static str, reason: impl Into<String>) -> Self {
        Self {
            decoder,
            reason: reason.into(),
        }
    }
}

/// One decoding step. `None` drops the series.
pub trait Decoder: Send + Sync {
    fn decode(&self, input: &[u8]) -> Result<Decoded, DecodeError>;
}

/// Decoder names, for the error about an unknown one.
pub const NAMES: &[&str] = &[
    "uint",
    "hex",
    "string",
    "ksym",
    "kstack",
    "syscall",
    "inet_ip",
    "static_map",
    "regexp",
    "majorminor",
    "cgroup",
    "k8s_pod",
    "k8s_namespace",
    "k8s_container",
];

/// Builds the decoder a config entry names; the error is the message for its field.
pub fn build(config: &DecoderConfig, context: &Context) -> Result<Box<dyn Decoder>, String> {
    Ok(match config.name.as_str() {
        "uint" => Box::new(numbers::Uint),
        "hex" => Box::new(numbers::Hex),
        "string" => Box::new(string::CString),
        "ksym" => Box::new(kernel_symbols::Ksym),
        "kstack" => Box::new(kernel_symbols::Kstack),
        "syscall" => Box::new(syscall::Syscall),
        "inet_ip" => Box::new(inet_ip::InetIp),
        "static_map" => Box::new(static_map::StaticMap::new(config)?),
        "regexp" => Box::new(static_map::Regexps::new(config)?),
        "majorminor" => Box::new(majorminor::MajorMinor::new()),
        "cgroup" => Box::new(cgroup::Cgroup(context.cgroups.clone())),
        "k8s_pod" => Box::new(crate::k8s::K8sDecoder::new(crate::k8s::Field::Pod, context)),
        "k8s_namespace" => Box::new(crate::k8s::K8sDecoder::new(
            crate::k8s::Field::Namespace,
            context,
        )),
        "k8s_container" => Box::new(crate::k8s::K8sDecoder::new(
            crate::k8s::Field::Container,
            context,
        )),
        other => {
            return Err(format!(
                "unknown decoder `{other}` (known: {})",
                NAMES.join(", ")
            ))
        }
    })
}

/// What decoders share: caches of the system's names.
#[derive(Clone)]
pub struct Context {
    pub cgroups: std::sync::Arc<CgroupPaths>,
    /// The kubelet's log layout (`/var/log`), for the k8s_* decoders.
    pub k8s: std::sync::Arc<crate::k8s::Resolver>,
}

impl Default for Context {
    fn default() -> Self {
        Self {
            cgroups: std::sync::Arc::new(CgroupPaths::new("/sys/fs/cgroup".into())),
            k8s: std::sync::Arc::new(crate::k8s::Resolver::new("/var/log".into())),
        }
    }
}

/// A chain of decoders for one label.
pub struct Chain(pub Vec<Box<dyn Decoder>>);

impl Chain {
    /// The label's text; `None` drops the series. Without decoders the bytes read as a C string.
    pub fn decode(&self, bytes: &[u8]) -> Result<Decoded, DecodeError> {
        if self.0.is_empty() {
            return string::CString.decode(bytes);
        }
        let mut current = bytes.to_vec();
        for decoder in &self.0 {
            match decoder.decode(&current)? {
                Some(text) => current = text.into_bytes(),
                None => return Ok(None),
            }
        }
        Ok(Some(String::from_utf8_lossy(&current).into_owned()))
    }
}

/// A little-endian unsigned integer of 1, 2, 4 or 8 bytes (the raw key bytes: number decoders
/// come first in a chain).
pub(crate) fn unsigned(decoder: &'static str, input: &[u8]) -> Result<u64, DecodeError> {
    if !matches!(input.len(), 1 | 2 | 4 | 8) {
        return Err(DecodeError::new(
            decoder,
            format!(
                "expected a 1, 2, 4 or 8 byte integer, got {} bytes",
                input.len()
            ),
        ));
    }
    let mut raw = [0u8; 8];
    raw[..input.len()].copy_from_slice(input);
    Ok(u64::from_le_bytes(raw))
}
