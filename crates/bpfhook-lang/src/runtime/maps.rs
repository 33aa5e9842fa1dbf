//! Reading the program's maps back: entries decoded, per-CPU shares combined, histogram
//! buckets gathered per key — what the output prints.

use std::collections::BTreeMap;
use std::os::fd::BorrowedFd;

use bpfhook::sys;

use super::decode::{read_uint, sign_extend, Decoder};
use crate::output::{Aggregate, MapDump, Value};
use crate::sema::{MapInfo, MapValue, TseriesAgg};

/// Every entry of a map, decoded.
pub fn dump(
    fd: BorrowedFd<'_>,
    info: &MapInfo,
    decoder: &mut Decoder,
) -> Result<MapDump, sys::SyscallError> {
    let key_size = info.key_size() as usize;
    let per_cpu = info.value.is_aggregate();
    let cpus = if per_cpu { possible_cpus() } else { 1 };
    let slot = bpfhook::maps::value_slot(info.value.value_size() as usize, per_cpu);
    let mut value = vec![0u8; slot * cpus];
    let user_key_size = info.key.as_ref().map_or(0, |k| k.size() as usize);
    let bucketed = info.value.is_bucketed();
    // Histogram and time series entries are (key, bucket) pairs: gather the buckets per key.
    let mut histograms: BTreeMap<Vec<u8>, Vec<u64>> = BTreeMap::new();
    let mut series: BTreeMap<Vec<u8>, BTreeMap<u64, Value>> = BTreeMap::new();
    let mut entries = Vec::new();
    for key in bpfhook::maps::keys(fd, key_size)? {
        if !sys::map_lookup(fd, &key, &mut value)? {
            continue;
        }
        let shares: Vec<&[u8]> = value.chunks(slot).take(cpus).collect();
        if bucketed {
            let bucket_at = user_key_size
                .next_multiple_of(8)
                .max(if info.key.is_some() { 0 } else { 8 });
            let user_key = key[..user_key_size].to_vec();
            if let MapValue::Tseries { agg, signed, .. } = info.value {
                let (epoch, value) = latest_interval(&shares, agg, signed);
                // The first bucket seen for an epoch stands (only never-written ones share 0).
                series
                    .entry(user_key)
                    .or_default()
                    .entry(epoch)
                    .or_insert(value);
                continue;
            }
            let bucket = read_uint(key.get(bucket_at..).unwrap_or_default(), 8) as usize;
            let count: u64 = shares.iter().map(|s| read_uint(s, 8)).sum();
            let buckets = histograms.entry(user_key).or_default();
            if buckets.len() <= bucket {
                buckets.resize(bucket + 1, 0);
            }
            buckets[bucket] += count;
            continue;
        }
        let key_values = decode_key(&key[..user_key_size.min(key.len())], info, decoder);
        let aggregate = combine(&info.value, &shares, decoder);
        entries.push((key_values, aggregate));
    }
    for (key, buckets) in histograms {
        let key_values = decode_key(&key, info, decoder);
        let aggregate = match info.value {
            MapValue::Lhist { min, max, step } => Aggregate::Lhist {
                min,
                max,
                step,
                buckets: {
                    let mut b = buckets;
                    b.resize(((max - min) / step + 2) as usize, 0);
                    b
                },
            },
            MapValue::Hist { bits } => Aggregate::Hist {
                bits: u32::from(bits),
                buckets,
            },
            _ => Aggregate::Hist { bits: 0, buckets },
        };
        entries.push((key_values, aggregate));
    }
    if let MapValue::Tseries {
        interval_ns,
        num_intervals,
        ..
    } = info.value
    {
        for (key, points) in series {
            let aggregate = Aggregate::Tseries {
                interval_ns,
                num_intervals,
                points: points.into_iter().collect(),
            };
            entries.push((decode_key(&key, info, decoder), aggregate));
        }
    }
    Ok(MapDump {
        name: info.name.clone(),
        keyed: info.key.is_some(),
        entries,
    })
}

fn decode_key(bytes: &[u8], info: &MapInfo, decoder: &mut Decoder) -> Vec<Value> {
    match &info.key {
        None => Vec::new(),
        Some(crate::types::Type::Tuple(layout)) => layout
            .fields
            .iter()
            .map(|f| decoder.value(bytes.get(f.offset as usize..).unwrap_or_default(), &f.ty))
            .collect(),
        Some(ty) => vec![decoder.value(bytes, ty)],
    }
}

/// One entry's value, per-CPU shares combined.
fn combine(value: &MapValue, shares: &[&[u8]], decoder: &mut Decoder) -> Aggregate {
    let word = |share: &[u8], at: usize| read_uint(share.get(at..).unwrap_or_default(), 8);
    let signed_word = |share: &[u8], at: usize| sign_extend(word(share, at), 64);
    match value {
        MapValue::Plain(ty) => Aggregate::Value(decoder.value(shares[0], ty)),
        MapValue::Count => Aggregate::Count(shares.iter().map(|s| word(s, 0)).sum()),
        MapValue::Sum { .. } => Aggregate::Sum(shares.iter().map(|s| signed_word(s, 0)).sum()),
        MapValue::Min { .. } | MapValue::Max { .. } => {
            let set = shares
                .iter()
                .filter(|s| word(s, 8) != 0)
                .map(|s| signed_word(s, 0));
            if matches!(value, MapValue::Min { .. }) {
                Aggregate::Min(set.min().unwrap_or(0))
            } else {
                Aggregate::Max(set.max().unwrap_or(0))
            }
        }
        MapValue::Avg { .. } | MapValue::Stats { .. } => {
            let total: i64 = shares.iter().map(|s| signed_word(s, 0)).sum();
            let count: u64 = shares.iter().map(|s| word(s, 8)).sum();
            if matches!(value, MapValue::Avg { .. }) {
                Aggregate::Avg { total, count }
            } else {
                Aggregate::Stats { count, total }
            }
        }
        MapValue::Hist { .. } | MapValue::Lhist { .. } | MapValue::Tseries { .. } => {
            Aggregate::Hist {
                bits: 0,
                buckets: Vec::new(),
            }
        }
    }
}

/// One time series bucket over every CPU, as bpftrace reduces it: only the CPUs' shares of
/// the latest epoch count, combined as the aggregation combines values (the last written
/// wins by its timestamp); `(0, 0)` when no CPU ever wrote the bucket.
fn latest_interval(shares: &[&[u8]], agg: TseriesAgg, signed: bool) -> (u64, Value) {
    let word = |share: &[u8], at: usize| read_uint(share.get(at..).unwrap_or_default(), 8);
    let latest = shares.iter().map(|s| word(s, 16)).max().unwrap_or(0);
    let of_latest = shares
        .iter()
        .filter(|s| latest != 0 && word(s, 16) == latest);
    let mut combined: Option<(u64, u64)> = None;
    for share in of_latest {
        let (value, meta) = (word(share, 0), word(share, 8));
        let Some((v, m)) = combined.as_mut() else {
            combined = Some((value, meta));
            continue;
        };
        let less = |a: u64, b: u64| match signed {
            true => (a as i64) < (b as i64),
            false => a < b,
        };
        match agg {
            TseriesAgg::Last if meta > *m => (*v, *m) = (value, meta),
            TseriesAgg::Last => {}
            TseriesAgg::Avg => (*v, *m) = (v.wrapping_add(value), m.wrapping_add(meta)),
            TseriesAgg::Sum => *v = v.wrapping_add(value),
            TseriesAgg::Min if less(value, *v) => *v = value,
            TseriesAgg::Max if less(*v, value) => *v = value,
            TseriesAgg::Min | TseriesAgg::Max => {}
        }
    }
    let (mut value, meta) = combined.unwrap_or((0, 0));
    if agg == TseriesAgg::Avg && meta != 0 {
        value = match signed {
            true => (value as i64).wrapping_div(meta as i64) as u64,
            false => value / meta,
        };
    }
    let value = match signed {
        true => Value::Int(value as i64),
        false => Value::UInt(value),
    };
    (if combined.is_some() { latest } else { 0 }, value)
}

/// What an entry holds before anything was added to it: a plain value is its type's zero
/// bytes (`0`, an empty string, `{ .a = 0, .b = (0, ) }`); `None` for a time series, which
/// shows nothing until written (as in bpftrace).
pub fn zero(value: &MapValue, decoder: &mut Decoder) -> Option<Aggregate> {
    Some(match value {
        MapValue::Plain(ty) => Aggregate::Value(decoder.value(&vec![0; ty.size() as usize], ty)),
        MapValue::Count => Aggregate::Count(0),
        MapValue::Sum { .. } => Aggregate::Sum(0),
        MapValue::Min { .. } => Aggregate::Min(0),
        MapValue::Max { .. } => Aggregate::Max(0),
        MapValue::Avg { .. } => Aggregate::Avg { total: 0, count: 0 },
        MapValue::Stats { .. } => Aggregate::Stats { count: 0, total: 0 },
        MapValue::Hist { bits } => Aggregate::Hist {
            bits: u32::from(*bits),
            buckets: Vec::new(),
        },
        MapValue::Lhist { min, max, step } => Aggregate::Lhist {
            min: *min,
            max: *max,
            step: *step,
            buckets: Vec::new(),
        },
        MapValue::Tseries { .. } => return None,
    })
}

/// Per-CPU lookups return one value per possible CPU.
pub fn possible_cpus() -> usize {
    aya::util::nr_cpus().unwrap_or(1).max(1)
}

/// Deletes every entry (`clear`) or sets every value to zero (`zero`).
pub fn clear(fd: BorrowedFd<'_>, info: &MapInfo, zero: bool) -> Result<(), sys::SyscallError> {
    let keys = bpfhook::maps::keys(fd, info.key_size() as usize)?;
    let per_cpu = info.value.is_aggregate();
    let cpus = if per_cpu { possible_cpus() } else { 1 };
    let zeros =
        vec![0u8; bpfhook::maps::value_slot(info.value.value_size() as usize, per_cpu) * cpus];
    for key in keys {
        if zero {
            sys::map_update(fd, &key, &zeros, 0)?;
        } else {
            sys::map_delete(fd, &key)?;
        }
    }
    Ok(())
}
