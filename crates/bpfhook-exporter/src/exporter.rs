//! The set of configs the exporter runs: one slot per configured name, each either live or
//! failed with its error (a bad config never stops the others). A scrape reads every live
//! config's maps and adds the exporter's own metrics; a reload swaps only the configs whose
//! YAML or object changed, so the unchanged ones keep their programs and counts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use bpfhook::inspect::stats::StatsGuard;
use bpfhook::manager::ProgramState;
use serde::Serialize;

use crate::decoders::Context;
use crate::loaded::{self, LoadedConfig};
use crate::metrics::{Family, Kind, Series, Value};

pub struct Options {
    pub dir: PathBuf,
    pub names: Vec<String>,
    /// Prepended to every configured metric's name with `_` (ebpf_exporter's is
    /// `ebpf_exporter`); empty for none.
    pub prefix: String,
    /// Turn on the kernel's run-time statistics (BPF_ENABLE_STATS) for per-program
    /// run count and time.
    pub run_stats: bool,
    pub context: Context,
}

enum State {
    Live(Box<LoadedConfig>),
    Failed(String),
}

struct Slot {
    name: String,
    state: State,
}

pub struct Exporter {
    options: Options,
    slots: Vec<Slot>,
    stats: Option<StatsGuard>,
    stats_error: Option<String>,
    /// Cumulative decode errors per (config, metric): entries a decoder rejected.
    decode_errors: HashMap<(String, String), u64>,
    cpus: usize,
}

/// What a reload did, by config name.
#[derive(Debug, Default, Serialize)]
pub struct ReloadReport {
    pub kept: Vec<String>,
    pub loaded: Vec<String>,
    pub failed: Vec<(String, String)>,
}

impl Exporter {
    /// Loads every config; failures are kept (see [`Self::failures`]), not returned.
    pub fn start(options: Options) -> Self {
        let (stats, stats_error) = if options.run_stats {
            match StatsGuard::enable() {
                Ok(guard) => (Some(guard), None),
                Err(e) => (None, Some(e.to_string())),
            }
        } else {
            (None, None)
        };
        let mut exporter = Self {
            options,
            slots: Vec::new(),
            stats,
            stats_error,
            decode_errors: HashMap::new(),
            cpus: aya::util::nr_cpus().unwrap_or(1),
        };
        exporter.reload();
        exporter
    }

    /// Re-reads every config: unchanged ones (same YAML, same object bytes) stay attached,
    /// changed ones are loaded anew and replace the old only once they loaded.
    pub fn reload(&mut self) -> ReloadReport {
        let mut report = ReloadReport::default();
        let mut old: HashMap<String, Slot> =
            self.slots.drain(..).map(|s| (s.name.clone(), s)).collect();
        for name in self.options.names.clone() {
            let previous = old.remove(&name);
            let state = match loaded::prepare(&self.options.dir, &name) {
                Err(e) => State::Failed(e.to_string()),
                Ok(prepared) => match previous {
                    Some(Slot {
                        state: State::Live(live),
                        ..
                    }) if live.fingerprint == prepared.fingerprint => {
                        report.kept.push(name.clone());
                        State::Live(live)
                    }
                    previous => {
                        // The old programs detach before the new attach: XDP allows one
                        // program per interface, and two copies would count twice.
                        drop(previous);
                        match loaded::load(prepared, &self.options.prefix, &self.options.context) {
                            Ok(live) => {
                                report.loaded.push(name.clone());
                                State::Live(Box::new(live))
                            }
                            Err(e) => State::Failed(e.to_string()),
                        }
                    }
                },
            };
            if let State::Failed(error) = &state {
                report.failed.push((name.clone(), error.clone()));
            }
            self.slots.push(Slot { name, state });
        }
        report
    }

    /// Configs that failed, with their errors.
    pub fn failures(&self) -> Vec<(&str, &str)> {
        self.slots
            .iter()
            .filter_map(|s| match &s.state {
                State::Failed(e) => Some((s.name.as_str(), e.as_str())),
                State::Live(_) => None,
            })
            .collect()
    }

    pub fn live_count(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s.state, State::Live(_)))
            .count()
    }

    /// Every metric: the configs' maps, then the exporter's own.
    pub fn collect(&mut self) -> Vec<Family> {
        let started = Instant::now();
        let mut families = Vec::new();
        let mut builtin = Builtin::default();
        for slot in &self.slots {
            builtin.up.push(series(
                &[("config", &slot.name)],
                gauge_bool(matches!(slot.state, State::Live(_))),
            ));
            let State::Live(live) = &slot.state else {
                continue;
            };
            for (spec, layout) in &live.metrics {
                let labels = [
                    ("config", live.name.as_str()),
                    ("metric", spec.name.as_str()),
                ];
                let Some(map) = live.manager.map(&spec.map) else {
                    continue;
                };
                match spec.read(bpfhook::maps::fd(map), *layout, self.cpus) {
                    Ok((read, stats)) => {
                        families.extend(read);
                        let errors = self
                            .decode_errors
                            .entry((live.name.clone(), spec.name.clone()))
                            .or_default();
                        *errors += stats.decode_errors;
                        // Two metrics may read one map: one series per map.
                        let map_labels =
                            [("config", live.name.as_str()), ("map", spec.map.as_str())];
                        let entries = series(&map_labels, Value::Integer(stats.entries as u64));
                        if !builtin.entries.iter().any(|s| s.labels == entries.labels) {
                            builtin.entries.push(entries);
                        }
                        builtin
                            .dropped
                            .push(series(&labels, Value::Integer(stats.dropped_series as u64)));
                    }
                    Err(e) => {
                        log::warn!("{}: reading map {}: {e}", live.name, spec.map);
                        *self
                            .decode_errors
                            .entry((live.name.clone(), spec.name.clone()))
                            .or_default() += 1;
                    }
                }
            }
            for status in live.manager.status() {
                if let Some((count, time)) = run_stats(live, &status.name) {
                    let labels = [
                        ("config", live.name.as_str()),
                        ("program", status.name.as_str()),
                    ];
                    builtin.runs.push(series(&labels, Value::Integer(count)));
                    builtin
                        .run_time
                        .push(series(&labels, Value::Float(time as f64 / 1e9)));
                }
            }
        }
        for ((config, metric), count) in &self.decode_errors {
            builtin.decode_errors.push(series(
                &[("config", config), ("metric", metric)],
                Value::Integer(*count),
            ));
        }
        builtin
            .decode_errors
            .sort_by(|a, b| a.labels.cmp(&b.labels));
        families.extend(builtin.families(started.elapsed().as_secs_f64()));
        families
    }

    /// The `/programs` page: each config, its programs and where they stand.
    pub fn programs(&self) -> ProgramsPage {
        let configs = self
            .slots
            .iter()
            .map(|slot| match &slot.state {
                State::Failed(error) => ConfigPage {
                    name: slot.name.clone(),
                    loaded: false,
                    error: Some(error.clone()),
                    programs: Vec::new(),
                    metrics: Vec::new(),
                },
                State::Live(live) => ConfigPage {
                    name: slot.name.clone(),
                    loaded: true,
                    error: None,
                    programs: live
                        .manager
                        .status()
                        .iter()
                        .map(|status| {
                            let (state, target, error) = match &status.state {
                                ProgramState::Attached(t) => {
                                    ("attached", Some(t.to_string()), None)
                                }
                                ProgramState::Skipped => ("skipped", None, None),
                                ProgramState::Failed(e) => ("failed", None, Some(e.clone())),
                            };
                            let stats = run_stats(live, &status.name);
                            ProgramPage {
                                name: status.name.clone(),
                                hook: status.hook.to_string(),
                                state,
                                target,
                                error,
                                id: live.manager.program_id(&status.name),
                                run_cnt: stats.map(|s| s.0),
                                run_time_ns: stats.map(|s| s.1),
                            }
                        })
                        .collect(),
                    metrics: live.metrics.iter().map(|(m, _)| m.name.clone()).collect(),
                },
            })
            .collect();
        ProgramsPage {
            run_stats: self.stats.is_some(),
            run_stats_error: self.stats_error.clone(),
            configs,
        }
    }
}

/// Cumulative run count and time of one attached program (zero while stats are off), read
/// through our own fd: opening programs by id would need CAP_SYS_ADMIN.
fn run_stats(live: &LoadedConfig, program: &str) -> Option<(u64, u64)> {
    let fd = live.manager.program(program)?;
    let info = bpfhook::sys::prog_info(fd, &mut [], &mut []).ok()?;
    Some((info.run_cnt, info.run_time_ns))
}

#[derive(Debug, Serialize)]
pub struct ProgramsPage {
    pub run_stats: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_stats_error: Option<String>,
    pub configs: Vec<ConfigPage>,
}

#[derive(Debug, Serialize)]
pub struct ConfigPage {
    pub name: String,
    pub loaded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub programs: Vec<ProgramPage>,
    pub metrics: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ProgramPage {
    pub name: String,
    pub hook: String,
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub id: Option<u32>,
    pub run_cnt: Option<u64>,
    pub run_time_ns: Option<u64>,
}

fn series(labels: &[(&str, &str)], value: Value) -> Series {
    Series {
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        value,
    }
}

fn gauge_bool(up: bool) -> Value {
    Value::Integer(u64::from(up))
}

/// The exporter's own metrics, gathered during a scrape.
#[derive(Default)]
struct Builtin {
    up: Vec<Series>,
    runs: Vec<Series>,
    run_time: Vec<Series>,
    entries: Vec<Series>,
    dropped: Vec<Series>,
    decode_errors: Vec<Series>,
}

impl Builtin {
    fn families(self, scrape_seconds: f64) -> Vec<Family> {
        let family = |name: &str, help: &str, kind, series| Family {
            name: format!("bpfhook_exporter_{name}"),
            help: help.to_owned(),
            kind,
            series,
        };
        vec![
            family(
                "config_loaded",
                "1 if the config's programs are attached, 0 if it failed to load (see /programs)",
                Kind::Gauge,
                self.up,
            ),
            family(
                "program_runs",
                "Times the program ran (kernel run-time statistics)",
                Kind::Counter,
                self.runs,
            ),
            family(
                "program_run_seconds",
                "CPU time spent in the program (kernel run-time statistics)",
                Kind::Counter,
                self.run_time,
            ),
            family(
                "map_entries",
                "Entries in the map at the last scrape",
                Kind::Gauge,
                self.entries,
            ),
            family(
                "series_dropped",
                "Series over the metric's max_series cap at the last scrape, not exported",
                Kind::Gauge,
                self.dropped,
            ),
            family(
                "decode_errors",
                "Map entries a decoder could not turn into labels",
                Kind::Counter,
                self.decode_errors,
            ),
            family(
                "scrape_duration_seconds",
                "Time the last scrape took to read every map",
                Kind::Gauge,
                vec![series(&[], Value::Float(scrape_seconds))],
            ),
        ]
    }
}
