//! A config's metrics, checked against the maps the object created, and read on each scrape:
//! every key's bytes split into labels and decoded, values summed over CPUs (or one series per
//! CPU), keys that decode to the same labels added together, series beyond the cap dropped
//! and counted.

use std::collections::BTreeMap;
use std::os::fd::BorrowedFd;

use bpfhook::sys::{self, SyscallError};

use crate::config::{self, BucketType, PerCpu};
use crate::decoders::{self, Chain, Context};

/// Series per metric when the config sets no `max_series`.
pub const DEFAULT_MAX_SERIES: usize = 100_000;

/// What the exposition format needs of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric family as read on a scrape.
#[derive(Debug, Clone)]
pub struct Family {
    pub name: String,
    pub help: String,
    pub kind: Kind,
    pub series: Vec<Series>,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub labels: Vec<(String, String)>,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Integer(u64),
    Float(f64),
    Histogram {
        sum: f64,
        count: u64,
        /// Cumulative counts by upper bound, ascending; +Inf is implied by `count`.
        buckets: Vec<(f64, u64)>,
    },
}

/// A map's shape as the kernel created it.
#[derive(Debug, Clone, Copy)]
pub struct MapLayout {
    pub key_size: usize,
    pub value_size: usize,
    pub per_cpu: bool,
}

impl MapLayout {
    pub fn of(fd: BorrowedFd<'_>) -> Result<Self, SyscallError> {
        let info = sys::map_info(fd)?;
        Ok(Self {
            key_size: info.key_size as usize,
            value_size: info.value_size as usize,
            per_cpu: bpfhook::maps::is_per_cpu(info.type_),
        })
    }
}

struct LabelSpec {
    name: String,
    /// Where the label's bytes start (fixed when the config gives an `offset`).
    offset: usize,
    size: usize,
    chain: Chain,
}

/// How a histogram's bucket index becomes an upper bound.
#[derive(Debug, Clone)]
pub struct Buckets {
    bucket_type: BucketType,
    min: u64,
    max: u64,
    multiplier: f64,
    keys: Vec<u64>,
}

impl Buckets {
    /// Upper bound of each bucket index the histogram exposes, ascending.
    fn bounds(&self) -> Vec<(u64, f64)> {
        let m = self.multiplier;
        match self.bucket_type {
            BucketType::Exp2 => (self.min..=self.max)
                .map(|k| (k, 2f64.powi(k as i32) * m))
                .collect(),
            BucketType::Exp2zero => (self.min..=self.max)
                .map(|k| {
                    (
                        k,
                        if k == 0 {
                            0.0
                        } else {
                            2f64.powi(k as i32 - 1) * m
                        },
                    )
                })
                .collect(),
            BucketType::Linear => (self.min..=self.max).map(|k| (k, k as f64 * m)).collect(),
            BucketType::Fixed => self.keys.iter().map(|&k| (k, k as f64 * m)).collect(),
        }
    }

    /// ebpf_exporter's convention: the program adds each observed value at index
    /// `bucket_max + 1`, which is then the histogram's sum (fixed buckets have no such slot).
    fn sum_key(&self) -> Option<u64> {
        (self.bucket_type != BucketType::Fixed).then_some(self.max + 1)
    }

    /// Counts per bucket index → cumulative buckets, count and sum.
    fn value(&self, counts: &BTreeMap<u64, u64>) -> Value {
        let sum_key = self.sum_key();
        let sum =
            sum_key.and_then(|k| counts.get(&k)).copied().unwrap_or(0) as f64 * self.multiplier;
        let count = counts
            .iter()
            .filter(|(k, _)| Some(**k) != sum_key)
            .map(|(_, v)| *v)
            .sum();
        let mut running = 0;
        let buckets = self
            .bounds()
            .into_iter()
            .map(|(k, le)| {
                running += counts.get(&k).copied().unwrap_or(0);
                (le, running)
            })
            .collect();
        Value::Histogram {
            sum,
            count,
            buckets,
        }
    }
}

/// One configured metric, bound to its map.
pub struct MetricSpec {
    /// The config's name (for built-in metrics about it), and the exposed one.
    pub config_name: String,
    pub name: String,
    help: String,
    kind: Kind,
    pub map: String,
    labels: Vec<LabelSpec>,
    per_cpu: PerCpu,
    max_series: usize,
    fields: Vec<String>,
    buckets: Option<Buckets>,
}

/// A problem in one metric's config: the field's path and what is wrong.
pub type FieldError = (String, String);

/// A counter, gauge or histogram entry before it meets its map.
pub struct Entry<'a> {
    pub field: String,
    pub kind: Kind,
    pub name: &'a str,
    pub help: &'a str,
    pub map: Option<&'a str>,
    pub labels: &'a [config::Label],
    pub per_cpu: PerCpu,
    pub max_series: Option<usize>,
    pub fields: &'a [String],
    pub histogram: Option<&'a config::Histogram>,
}

impl<'a> Entry<'a> {
    pub fn metric(field: String, kind: Kind, m: &'a config::Metric) -> Self {
        Self {
            field,
            kind,
            name: &m.name,
            help: &m.help,
            map: m.map.as_deref(),
            labels: &m.labels,
            per_cpu: m.per_cpu,
            max_series: m.max_series,
            fields: &m.values,
            histogram: None,
        }
    }

    pub fn histogram(field: String, h: &'a config::Histogram) -> Self {
        Self {
            field,
            kind: Kind::Histogram,
            name: &h.name,
            help: &h.help,
            map: h.map.as_deref(),
            labels: &h.labels,
            per_cpu: h.per_cpu,
            max_series: h.max_series,
            fields: &[],
            histogram: Some(h),
        }
    }

    /// The map this entry reads.
    pub fn map_name(&self) -> &str {
        self.map.unwrap_or(self.name)
    }

    /// Checks the entry against its map's layout and builds its decoders.
    pub fn build(
        &self,
        config_name: &str,
        prefix: &str,
        layout: MapLayout,
        context: &Context,
    ) -> Result<MetricSpec, FieldError> {
        let at = |sub: &str| format!("{}{sub}", self.field);
        let mut labels = Vec::new();
        let mut cursor: usize = 0;
        for (i, label) in self.labels.iter().enumerate() {
            let mut chain = Vec::new();
            for (j, decoder) in label.decoders.iter().enumerate() {
                chain.push(
                    decoders::build(decoder, context)
                        .map_err(|e| (at(&format!(".labels[{i}].decoders[{j}].name")), e))?,
                );
            }
            if label.size == 0 {
                return Err((
                    at(&format!(".labels[{i}].size")),
                    "must be at least 1".into(),
                ));
            }
            let offset = match label.offset {
                Some(offset) => offset,
                None => {
                    let at = cursor;
                    cursor = cursor.saturating_add(label.size.saturating_add(label.padding));
                    at
                }
            };
            let end = offset.saturating_add(label.size);
            if end > layout.key_size {
                return Err((
                    at(&format!(".labels[{i}]")),
                    format!(
                        "bytes {offset}..{end} are past the end of map `{}`'s {}-byte keys",
                        self.map_name(),
                        layout.key_size
                    ),
                ));
            }
            labels.push(LabelSpec {
                name: label.name.clone(),
                offset,
                size: label.size,
                chain: Chain(chain),
            });
        }
        let value_bytes = 8 * self.fields.len().max(1);
        let single_u32 = self.fields.is_empty() && layout.value_size == 4;
        if layout.value_size < value_bytes && !single_u32 {
            return Err((
                at(".values"),
                format!(
                    "{} u64 value(s) need {value_bytes} bytes but map `{}` has {}-byte values",
                    self.fields.len().max(1),
                    self.map_name(),
                    layout.value_size
                ),
            ));
        }
        if self.fields.is_empty() && layout.value_size > 8 {
            return Err((
                at(".values"),
                format!(
                    "map `{}` has {}-byte values and its BTF shows no struct of u64 members: \
                     name the u64 fields to read with `values: [a, b, …]`",
                    self.map_name(),
                    layout.value_size
                ),
            ));
        }
        let buckets = match self.histogram {
            Some(h) => Some(histogram_buckets(h, labels.len()).map_err(|(f, e)| (at(&f), e))?),
            None => None,
        };
        let name = if prefix.is_empty() {
            self.name.to_owned()
        } else {
            format!("{prefix}_{}", self.name)
        };
        Ok(MetricSpec {
            config_name: config_name.to_owned(),
            name,
            help: self.help.to_owned(),
            kind: self.kind,
            map: self.map_name().to_owned(),
            labels,
            per_cpu: self.per_cpu,
            max_series: self.max_series.unwrap_or(DEFAULT_MAX_SERIES),
            fields: self.fields.to_vec(),
            buckets,
        })
    }
}

fn histogram_buckets(h: &config::Histogram, labels: usize) -> Result<Buckets, FieldError> {
    if labels == 0 {
        return Err((
            ".labels".into(),
            "a histogram's last label is its bucket".into(),
        ));
    }
    let multiplier = h.bucket_multiplier.unwrap_or(1.0);
    if h.bucket_type == BucketType::Fixed {
        if h.bucket_keys.is_empty() {
            return Err((
                ".bucket_keys".into(),
                "fixed buckets need bucket_keys".into(),
            ));
        }
        let mut keys = h.bucket_keys.clone();
        keys.sort_unstable();
        return Ok(Buckets {
            bucket_type: h.bucket_type,
            min: 0,
            max: 0,
            multiplier,
            keys,
        });
    }
    let max = h.bucket_max.ok_or_else(|| {
        (
            ".bucket_max".to_owned(),
            "required for this bucket_type".to_owned(),
        )
    })?;
    let min = h.bucket_min.unwrap_or(0);
    if min > max || max > 1023 {
        return Err((
            ".bucket_max".into(),
            format!("expected bucket_min <= bucket_max <= 1023, got {min}..{max}"),
        ));
    }
    Ok(Buckets {
        bucket_type: h.bucket_type,
        min,
        max,
        multiplier,
        keys: Vec::new(),
    })
}

/// A key's label values and, for histograms, its bucket index.
type DecodedKey = (Vec<String>, Option<u64>);

/// What one metric's read produced besides its families.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadStats {
    pub entries: usize,
    pub decode_errors: u64,
    pub dropped_series: usize,
}

impl MetricSpec {
    /// Reads the map and turns it into families (one per value field).
    pub fn read(
        &self,
        map: BorrowedFd<'_>,
        layout: MapLayout,
        cpus: usize,
    ) -> Result<(Vec<Family>, ReadStats), SyscallError> {
        let cpus = if layout.per_cpu { cpus.max(1) } else { 1 };
        let slot = bpfhook::maps::value_slot(layout.value_size, layout.per_cpu);
        let mut stats = ReadStats::default();
        let mut numbers: BTreeMap<Vec<String>, Vec<u64>> = BTreeMap::new();
        let mut histograms: BTreeMap<Vec<String>, BTreeMap<u64, u64>> = BTreeMap::new();
        let entries = bpfhook::maps::entries(map, layout.key_size, slot * cpus)?;
        for (key, value) in entries.iter() {
            stats.entries += 1;
            let (labels, bucket) = match self.decode_key(key) {
                Ok(Some(decoded)) => decoded,
                Ok(None) => continue,
                Err(error) => {
                    log::debug!("{}: {error}", self.name);
                    stats.decode_errors += 1;
                    continue;
                }
            };
            for (cpu, chunk) in value.chunks(slot).enumerate() {
                let values = self.values(chunk, layout.value_size);
                let mut labels = labels.clone();
                if layout.per_cpu && self.per_cpu == PerCpu::Label {
                    labels.push(cpu.to_string());
                }
                match bucket {
                    Some(bucket) => {
                        *histograms
                            .entry(labels)
                            .or_default()
                            .entry(bucket)
                            .or_default() += values[0]
                    }
                    None => {
                        let sums = numbers
                            .entry(labels)
                            .or_insert_with(|| vec![0; values.len()]);
                        for (sum, v) in sums.iter_mut().zip(&values) {
                            *sum = sum.wrapping_add(*v);
                        }
                    }
                }
            }
        }
        let label_names = self.label_names(layout.per_cpu);
        let series_count = numbers.len() + histograms.len();
        stats.dropped_series = series_count.saturating_sub(self.max_series);
        let families = if self.buckets.is_some() {
            self.histogram_family(&label_names, histograms)
        } else {
            self.number_families(&label_names, numbers)
        };
        Ok((families, stats))
    }

    /// Label values of one key, and for histograms the bucket index; `None` if a decoder
    /// dropped the key.
    fn decode_key(&self, key: &[u8]) -> Result<Option<DecodedKey>, decoders::DecodeError> {
        let mut values = Vec::with_capacity(self.labels.len());
        let mut bucket = None;
        for (i, label) in self.labels.iter().enumerate() {
            // In bounds: checked against the map's key size when the metric was built.
            let Some(bytes) = key.get(label.offset..label.offset + label.size) else {
                return Err(decoders::DecodeError::new("key", "shorter than its labels"));
            };
            if self.buckets.is_some() && i + 1 == self.labels.len() {
                bucket = Some(decoders::unsigned("bucket", bytes)?);
                continue;
            }
            match label.chain.decode(bytes)? {
                Some(text) => values.push(text),
                None => return Ok(None),
            }
        }
        Ok(Some((values, bucket)))
    }

    /// The value's u64 fields (one when no `values:` are named; a 4-byte value reads as u32).
    fn values(&self, chunk: &[u8], value_size: usize) -> Vec<u64> {
        let chunk = &chunk[..value_size.min(chunk.len())];
        if chunk.len() == 4 {
            return vec![u32::from_le_bytes(chunk.try_into().unwrap_or_default()) as u64];
        }
        chunk
            .chunks_exact(8)
            .take(self.fields.len().max(1))
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect()
    }

    fn label_names(&self, per_cpu: bool) -> Vec<String> {
        let mut names: Vec<String> = self.labels.iter().map(|l| l.name.clone()).collect();
        if self.buckets.is_some() {
            names.pop();
        }
        if per_cpu && self.per_cpu == PerCpu::Label {
            names.push("cpu".into());
        }
        names
    }

    fn number_families(
        &self,
        names: &[String],
        numbers: BTreeMap<Vec<String>, Vec<u64>>,
    ) -> Vec<Family> {
        let field_names: Vec<Option<&String>> = if self.fields.is_empty() {
            vec![None]
        } else {
            self.fields.iter().map(Some).collect()
        };
        field_names
            .iter()
            .enumerate()
            .map(|(i, field)| Family {
                name: field.map_or_else(|| self.name.clone(), |f| format!("{}_{f}", self.name)),
                help: self.help.clone(),
                kind: self.kind,
                series: numbers
                    .iter()
                    .take(self.max_series)
                    .map(|(labels, values)| Series {
                        labels: zip_labels(names, labels),
                        value: Value::Integer(values.get(i).copied().unwrap_or(0)),
                    })
                    .collect(),
            })
            .collect()
    }

    fn histogram_family(
        &self,
        names: &[String],
        histograms: BTreeMap<Vec<String>, BTreeMap<u64, u64>>,
    ) -> Vec<Family> {
        let Some(buckets) = &self.buckets else {
            return Vec::new();
        };
        vec![Family {
            name: self.name.clone(),
            help: self.help.clone(),
            kind: Kind::Histogram,
            series: histograms
                .iter()
                .take(self.max_series)
                .map(|(labels, counts)| Series {
                    labels: zip_labels(names, labels),
                    value: buckets.value(counts),
                })
                .collect(),
        }]
    }
}

fn zip_labels(names: &[String], values: &[String]) -> Vec<(String, String)> {
    names.iter().cloned().zip(values.iter().cloned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(bucket_type: BucketType, max: u64, keys: Vec<u64>) -> Buckets {
        Buckets {
            bucket_type,
            min: 0,
            max,
            multiplier: 1.0,
            keys,
        }
    }

    #[test]
    fn exp2_buckets_are_cumulative_with_the_sum_slot() {
        let counts = BTreeMap::from([(0, 1), (2, 3), (4, 100)]);
        let Value::Histogram {
            sum,
            count,
            buckets,
        } = buckets(BucketType::Exp2, 3, vec![]).value(&counts)
        else {
            panic!("not a histogram")
        };
        assert_eq!(buckets, vec![(1.0, 1), (2.0, 1), (4.0, 4), (8.0, 4)]);
        assert_eq!(
            (sum, count),
            (100.0, 4),
            "index bucket_max + 1 holds the sum"
        );
    }

    #[test]
    fn exp2zero_linear_and_fixed_bounds() {
        let b = |t, max, keys| buckets(t, max, keys).bounds();
        let bounds = |v: Vec<(u64, f64)>| v.into_iter().map(|(_, le)| le).collect::<Vec<_>>();
        assert_eq!(
            bounds(b(BucketType::Exp2zero, 3, vec![])),
            [0.0, 1.0, 2.0, 4.0]
        );
        assert_eq!(
            bounds(b(BucketType::Linear, 3, vec![])),
            [0.0, 1.0, 2.0, 3.0]
        );
        assert_eq!(bounds(b(BucketType::Fixed, 0, vec![5, 50])), [5.0, 50.0]);
    }
}
