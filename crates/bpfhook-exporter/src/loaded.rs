//! One config, live: its object loaded through the Manager exactly as `bpfhook run` loads it
//! (programs attach from their section names), its metrics bound to the object's maps. Owning
//! the `Manager` means dropping a `LoadedConfig` detaches everything it attached.

use std::path::{Path, PathBuf};

use bpfhook::attach::{AttachOptions, XdpMode};
use bpfhook::compile::{compile, CompileOptions};
use bpfhook::hook::Direction;
use bpfhook::manager::{Manager, ManagerBuilder};
use bpfhook::object::ObjectFile;

use crate::config::{self, Config, ConfigError, ConfigFiles};
use crate::decoders::Context;
use crate::metrics::{Entry, Kind, MapLayout, MetricSpec};

/// A config's inputs as bytes: what reload compares to tell an unchanged config.
pub struct Prepared {
    pub name: String,
    pub files: ConfigFiles,
    pub config: Config,
    /// The object to load (the program file itself, or its compiled form).
    pub object: PathBuf,
    pub fingerprint: blake3::Hash,
}

/// Reads and parses the YAML and compiles C source (cached), without touching the kernel.
pub fn prepare(dir: &Path, name: &str) -> Result<Prepared, ConfigError> {
    let files = ConfigFiles::find(dir, name)?;
    let text = std::fs::read_to_string(&files.yaml)
        .map_err(|e| ConfigError::new(&files.yaml, None, format!("reading: {e}")))?;
    let config = config::parse(&files.yaml, &text)?;
    let object = if files.program.extension().is_some_and(|e| e == "c") {
        let options = CompileOptions {
            cflags: config.bpfhook.cflags.clone(),
            no_cache: false,
        };
        compile(&files.program, &options)
            .map_err(|e| ConfigError::new(&files.program, None, e.to_string()))?
            .object
    } else {
        files.program.clone()
    };
    let bytes = std::fs::read(&object)
        .map_err(|e| ConfigError::new(&object, None, format!("reading: {e}")))?;
    let mut hasher = blake3::Hasher::new();
    hasher.update(text.as_bytes());
    hasher.update(&bytes);
    Ok(Prepared {
        name: name.to_owned(),
        files,
        config,
        object,
        fingerprint: hasher.finalize(),
    })
}

pub struct LoadedConfig {
    pub name: String,
    pub fingerprint: blake3::Hash,
    pub metrics: Vec<(MetricSpec, MapLayout)>,
    pub manager: Manager,
}

/// Loads and attaches a prepared config. Every metric is checked against its map after the
/// maps exist and before any program attaches, so a bad metric leaves nothing attached.
pub fn load(
    prepared: Prepared,
    prefix: &str,
    context: &Context,
) -> Result<LoadedConfig, ConfigError> {
    let Prepared {
        name,
        files,
        config,
        object,
        fingerprint,
    } = prepared;
    let yaml = &files.yaml;
    let program_error =
        |e: &dyn std::fmt::Display| ConfigError::new(&files.program, None, e.to_string());
    let object_file = ObjectFile::from_path(&object).map_err(|e| program_error(&e))?;
    let mut builder =
        ManagerBuilder::new(&object_file).options(attach_options(yaml, &config.bpfhook)?);
    if !config.bpfhook.programs.is_empty() {
        builder = builder.select(config.bpfhook.programs.iter().cloned());
    }
    let loaded = builder.load().map_err(|e| program_error(&e))?;

    let mut metrics = Vec::new();
    for entry in entries(&config) {
        let field = format!("{}.name", entry.field);
        let Some((_, map)) = loaded.maps().find(|(n, _)| *n == entry.map_name()) else {
            let mut names: Vec<&str> = loaded
                .maps()
                .map(|(n, _)| n)
                .filter(|n| !n.starts_with('.'))
                .collect();
            names.sort_unstable();
            return Err(ConfigError::new(
                yaml,
                Some(field),
                format!(
                    "no map `{}` in {} (it has: {})",
                    entry.map_name(),
                    files.program.display(),
                    names.join(", ")
                ),
            ));
        };
        let layout = MapLayout::of(bpfhook::maps::fd(map))
            .map_err(|e| ConfigError::new(yaml, Some(field), e.to_string()))?;
        let named;
        let mut entry = entry;
        if entry.fields.is_empty() && layout.value_size > 8 {
            // A struct of u64 counters names its own fields through the map's BTF.
            named = u64_fields(map, layout.value_size).unwrap_or_default();
            entry.fields = &named;
        }
        let spec = entry
            .build(&name, prefix, layout, context)
            .map_err(|(field, message)| ConfigError::new(yaml, Some(field), message))?;
        metrics.push((spec, layout));
    }
    let manager = loaded.attach().map_err(|e| program_error(&e))?;
    Ok(LoadedConfig {
        name,
        fingerprint,
        metrics,
        manager,
    })
}

/// The member names of a value that is a struct of exactly `value_size / 8` u64 members, from
/// the map's BTF (None when it has none, or the value is shaped otherwise).
fn u64_fields(map: &aya::maps::Map, value_size: usize) -> Option<Vec<String>> {
    use bpfhook::decode::Value;
    let open = bpfhook::inspect::maps::OpenMap::open(bpfhook::maps::id(map)?).ok()?;
    // All ones: a u64 member decodes to u64::MAX, anything narrower or signed does not.
    let Value::Struct(members) = open.decode_value(&vec![0xff; value_size]) else {
        return None;
    };
    let all_u64 = members.len() * 8 == value_size
        && members
            .iter()
            .all(|(name, v)| !name.is_empty() && *v == Value::Unsigned(u128::from(u64::MAX)));
    all_u64.then(|| members.into_iter().map(|(name, _)| name).collect())
}

/// Every counter, gauge and histogram of a config, with its field path for errors.
fn entries(config: &Config) -> Vec<Entry<'_>> {
    let m = &config.metrics;
    let counters = m
        .counters
        .iter()
        .enumerate()
        .map(|(i, c)| Entry::metric(format!("metrics.counters[{i}]"), Kind::Counter, c));
    let gauges = m
        .gauges
        .iter()
        .enumerate()
        .map(|(i, g)| Entry::metric(format!("metrics.gauges[{i}]"), Kind::Gauge, g));
    let histograms = m
        .histograms
        .iter()
        .enumerate()
        .map(|(i, h)| Entry::histogram(format!("metrics.histograms[{i}]"), h));
    counters.chain(gauges).chain(histograms).collect()
}

fn attach_options(yaml: &Path, targets: &config::Targets) -> Result<AttachOptions, ConfigError> {
    let xdp_mode = match &targets.xdp_mode {
        None => XdpMode::default(),
        Some(mode) => XdpMode::parse(mode).ok_or_else(|| {
            ConfigError::new(
                yaml,
                Some("bpfhook.xdp_mode".into()),
                "expected auto, native or generic",
            )
        })?,
    };
    let direction = match &targets.direction {
        None => None,
        Some(d) => Some(Direction::parse(d).ok_or_else(|| {
            ConfigError::new(
                yaml,
                Some("bpfhook.direction".into()),
                "expected ingress or egress",
            )
        })?),
    };
    Ok(AttachOptions {
        iface: targets.iface.clone(),
        direction,
        cgroup: targets.cgroup.clone(),
        binary: targets.binary.clone(),
        pid: targets.pid,
        xdp_mode,
        ..AttachOptions::default()
    })
}
