//! One exporter config: `NAME.yaml` in ebpf_exporter's format, beside the program it describes
//! (`NAME.bpf.o`, or `NAME.bpf.c` compiled through bpfhook's clang pipeline).
//!
//! Fields beyond ebpf_exporter's are marked "ours" below; every struct rejects unknown fields so
//! a typo is an error naming the field, not a metric that silently never appears.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub metrics: Metrics,
    /// Ours: where the programs attach (what `bpfhook run` takes on its command line).
    #[serde(default)]
    pub bpfhook: Targets,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    #[serde(default)]
    pub counters: Vec<Metric>,
    /// Ours: like counters, exposed as gauges (values that go down: queue depths, in-flight).
    #[serde(default)]
    pub gauges: Vec<Metric>,
    #[serde(default)]
    pub histograms: Vec<Histogram>,
}

/// A counter or gauge: one map whose key bytes are split into labels and whose value is a
/// number (or a struct of numbers: one metric per field).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub name: String,
    pub help: String,
    #[serde(default)]
    pub labels: Vec<Label>,
    /// Ours: the map to read (default: the metric's name, as in ebpf_exporter).
    pub map: Option<String>,
    /// Ours: how per-CPU maps are read.
    #[serde(default)]
    pub per_cpu: PerCpu,
    /// Ours: at most this many series; the rest are dropped and counted.
    pub max_series: Option<usize>,
    /// Ours: the value is a struct of u64 fields with these names (in order): one metric per
    /// field, named `NAME_FIELD`. Without it, a struct of u64 members is named by the map's BTF.
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Histogram {
    pub name: String,
    pub help: String,
    /// The key's last label is the bucket index.
    #[serde(default)]
    pub labels: Vec<Label>,
    pub bucket_type: BucketType,
    pub bucket_min: Option<u64>,
    pub bucket_max: Option<u64>,
    pub bucket_multiplier: Option<f64>,
    #[serde(default)]
    pub bucket_keys: Vec<u64>,
    pub map: Option<String>,
    #[serde(default)]
    pub per_cpu: PerCpu,
    pub max_series: Option<usize>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BucketType {
    Exp2,
    Exp2zero,
    Linear,
    Fixed,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum PerCpu {
    /// One series, the sum over CPUs.
    #[default]
    Sum,
    /// One series per CPU, with a `cpu` label.
    Label,
}

/// `size` bytes of the key (then `padding` bytes skipped), turned into text by `decoders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    pub name: String,
    pub size: usize,
    #[serde(default)]
    pub padding: usize,
    /// Ours: read the bytes at this offset of the key instead of after the previous label (and
    /// leave the position alone), so one field can feed several labels (pod, namespace, …).
    pub offset: Option<usize>,
    #[serde(default)]
    pub decoders: Vec<DecoderConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoderConfig {
    pub name: String,
    #[serde(default)]
    pub static_map: BTreeMap<Scalar, String>,
    #[serde(default)]
    pub allow_unknown: bool,
    #[serde(default)]
    pub regexps: Vec<String>,
}

/// Ours: attach options for the config's programs (see `bpfhook run --help`).
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// Network interface for XDP, TC and socket filter programs.
    pub iface: Option<String>,
    /// cgroup v2 directory for cgroup and sockops programs.
    pub cgroup: Option<PathBuf>,
    /// Binary or library for uprobes whose section names none.
    pub binary: Option<String>,
    pub pid: Option<u32>,
    /// auto, native or generic.
    pub xdp_mode: Option<String>,
    /// ingress or egress, for sections that do not say.
    pub direction: Option<String>,
    /// Attach only these programs (default: all).
    #[serde(default)]
    pub programs: Vec<String>,
    /// Extra clang flags when the program is C source.
    #[serde(default)]
    pub cflags: Vec<String>,
}

/// A YAML scalar used as a map key (`1: tcp` or `"x": y`), kept as its text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
        }
        d.deserialize_any(Text)
    }
}

/// A config problem, naming the file and (where one is to blame) the field.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}{message}", file.display(), field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default())]
pub struct ConfigError {
    pub file: PathBuf,
    pub field: Option<String>,
    pub message: String,
}

impl ConfigError {
    pub fn new(file: &Path, field: Option<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            field,
            message: message.into(),
        }
    }
}

/// The files of config `name` in `dir`.
#[derive(Debug, Clone)]
pub struct ConfigFiles {
    pub yaml: PathBuf,
    /// `NAME.bpf.o` if present, else `NAME.bpf.c`.
    pub program: PathBuf,
}

impl ConfigFiles {
    pub fn find(dir: &Path, name: &str) -> Result<Self, ConfigError> {
        let yaml = dir.join(format!("{name}.yaml"));
        if !yaml.is_file() {
            return Err(ConfigError::new(&yaml, None, "no such config file"));
        }
        let object = dir.join(format!("{name}.bpf.o"));
        let source = dir.join(format!("{name}.bpf.c"));
        let program = if object.is_file() {
            object
        } else if source.is_file() {
            source
        } else {
            return Err(ConfigError::new(
                &yaml,
                None,
                format!(
                    "no program beside it: expected {} or {}",
                    object.display(),
                    source.display()
                ),
            ));
        };
        Ok(Self { yaml, program })
    }
}

/// Parses a config; the error names the file and the line/field YAML points at.
pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigError> {
    serde_saphyr::from_str(text).map_err(|e| ConfigError::new(file, None, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_ebpf_exporter_config() {
        let text = r#"
metrics:
  counters:
    - name: packets
      help: Packets by protocol
      labels:
        - name: proto
          size: 4
          decoders:
            - name: uint
            - name: static_map
              static_map:
                6: tcp
                17: udp
  histograms:
    - name: latency_seconds
      help: Latency
      bucket_type: exp2
      bucket_min: 0
      bucket_max: 26
      bucket_multiplier: 0.000001
      labels:
        - name: bucket
          size: 8
          decoders: [{name: uint}]
bpfhook:
  iface: eth0
"#;
        let config = parse(Path::new("x.yaml"), text).unwrap();
        let counter = &config.metrics.counters[0];
        assert_eq!(
            counter.labels[0].decoders[1].static_map[&Scalar("17".into())],
            "udp"
        );
        assert_eq!(config.metrics.histograms[0].bucket_type, BucketType::Exp2);
        assert_eq!(config.bpfhook.iface.as_deref(), Some("eth0"));
    }

    #[test]
    fn unknown_fields_are_errors_naming_the_file_and_field() {
        let error = parse(
            Path::new("dir/a.yaml"),
            "metrics:\n  counters:\n    - name: x\n      help: y\n      lables: []\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.starts_with("dir/a.yaml: "), "{error}");
        assert!(error.contains("lables"), "{error}");
    }
}
