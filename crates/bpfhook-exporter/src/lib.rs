//! `bpfhook exporter`: eBPF maps as Prometheus metrics, from ebpf_exporter-compatible configs.
//!
//! config (YAML beside its object or C source) → [`loaded`] (compile, load and attach through the
//! Manager; metrics bound to the object's maps) → [`exporter::Exporter`] (every config, reload
//! keeping the unchanged) → on each scrape [`metrics`] reads the maps through [`decoders`] →
//! [`exposition`] (the Prometheus org's client) → [`http`].

pub mod config;
pub mod decoders;
pub mod exporter;
pub mod exposition;
pub mod http;
pub mod k8s;
pub mod loaded;
pub mod metrics;

pub use exporter::{Exporter, Options};
