//! A map dump put in bpftrace's order and reduced to what it prints: sorted by value or by
//! key depending on the aggregate, cut to the top N, divided, averages and histograms worked out.

use std::cmp::Ordering;

use super::hist::{self, Rows};
use super::tseries::{epoch_range, Series};
use super::value::{Aggregate, MapDump, Value};

/// One entry's value as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shown {
    Value(Value),
    Hist(Rows),
    Series(Series),
}

/// What family the map's values belong to (JSON names its record after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Plain,
    /// `avg` and `stats`.
    Stats,
    /// `hist` and `lhist`.
    Hist,
    Tseries,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prepared {
    pub family: Family,
    pub entries: Vec<(Vec<Value>, Shown)>,
}

fn family(a: &Aggregate) -> Family {
    match a {
        Aggregate::Avg { .. } | Aggregate::Stats { .. } => Family::Stats,
        Aggregate::Hist { .. } | Aggregate::Lhist { .. } => Family::Hist,
        Aggregate::Tseries { .. } => Family::Tseries,
        _ => Family::Plain,
    }
}

fn average(total: i64, count: u64) -> i64 {
    i64::try_from(count)
        .ok()
        .filter(|&c| c > 0)
        .map_or(0, |c| total.wrapping_div(c))
}

/// What bpftrace sorts an entry by when it sorts by value; `None` when it sorts by key.
fn sort_value(a: &Aggregate) -> Option<i128> {
    match a {
        Aggregate::Count(c) => Some(i128::from(*c)),
        Aggregate::Sum(v) => Some(i128::from(*v)),
        // bpftrace compares min/max as unsigned, whatever their sign.
        Aggregate::Min(v) | Aggregate::Max(v) => Some(i128::from(*v as u64)),
        Aggregate::Avg { total, count } | Aggregate::Stats { count, total } => {
            Some(i128::from(average(*total, *count)))
        }
        Aggregate::Hist { buckets, .. } | Aggregate::Lhist { buckets, .. } => {
            Some(buckets.iter().map(|&b| i128::from(b)).sum())
        }
        Aggregate::Value(v @ (Value::Int(_) | Value::UInt(_) | Value::Symbol { .. })) => {
            v.as_integer()
        }
        Aggregate::Value(_) | Aggregate::Tseries { .. } => None,
    }
}

/// bpftrace's key order: integer parts compared as signed 64-bit numbers, strings bytewise,
/// parts of other types not compared.
fn compare_keys(a: &[Value], b: &[Value]) -> Ordering {
    let part = |x: &Value, y: &Value| match (x, y) {
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        _ => match (x.as_integer(), y.as_integer()) {
            (Some(x), Some(y)) => (x as i64).cmp(&(y as i64)),
            _ => Ordering::Equal,
        },
    };
    a.iter()
        .zip(b)
        .map(|(x, y)| part(x, y))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

fn divide(v: &Value, div: u64) -> Value {
    match v {
        Value::Int(i) => Value::Int(i.wrapping_div(div.min(i64::MAX as u64) as i64)),
        Value::UInt(u) => Value::UInt(u / div),
        other => other.clone(),
    }
}

/// `range`: the epochs a time series shows (the same for every key of the map).
fn shown(a: &Aggregate, div: u64, range: Option<(u64, u64)>) -> Shown {
    let idiv = div.min(i64::MAX as u64) as i64;
    let value = match a {
        Aggregate::Value(v) => divide(v, div),
        Aggregate::Count(c) => Value::UInt(c / div),
        Aggregate::Sum(v) | Aggregate::Min(v) | Aggregate::Max(v) => {
            Value::Int(v.wrapping_div(idiv))
        }
        Aggregate::Avg { total, count } => Value::Int(average(*total, *count).wrapping_div(idiv)),
        Aggregate::Stats { count, total } => Value::Record(vec![
            ("count".into(), Value::UInt(*count)),
            (
                "average".into(),
                Value::Int(average(*total, *count).wrapping_div(idiv)),
            ),
            ("total".into(), Value::Int(*total)),
        ]),
        Aggregate::Hist { bits, buckets } => {
            return Shown::Hist(hist::log2_rows(buckets, *bits, div))
        }
        Aggregate::Lhist {
            min,
            max,
            step,
            buckets,
        } => return Shown::Hist(hist::linear_rows(buckets, *min, *max, *step)),
        Aggregate::Tseries {
            interval_ns,
            points,
            ..
        } => {
            let range = range.unwrap_or_default();
            return Shown::Series(Series::new(*interval_ns, points, range));
        }
    };
    Shown::Value(value)
}

/// The entries as `print(@m, top, div)` shows them (`top` 0: all; `div` 0 counts as 1).
pub(crate) fn prepare(m: &MapDump, top: usize, div: u64) -> Prepared {
    let div = div.max(1);
    let family = m.entries.first().map_or(Family::Plain, |(_, a)| family(a));
    let mut order: Vec<&(Vec<Value>, Aggregate)> = m.entries.iter().collect();
    let range = epoch_range(m.entries.iter().map(|(_, a)| a));
    let by_value = m.entries.iter().all(|(_, a)| sort_value(a).is_some());
    if by_value {
        order.sort_by_key(|(_, a)| sort_value(a));
    } else {
        order.sort_by(|(a, _), (b, _)| compare_keys(a, b));
    }
    if top > 0 && order.len() > top {
        order.drain(..order.len() - top);
    }
    Prepared {
        family,
        entries: order
            .into_iter()
            .map(|(key, a)| (key.clone(), shown(a, div, range)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(entries: Vec<(Vec<Value>, Aggregate)>) -> MapDump {
        MapDump {
            name: "@".into(),
            keyed: true,
            entries,
        }
    }

    fn keys(p: &Prepared) -> Vec<String> {
        p.entries
            .iter()
            .map(|(k, _)| super::super::value::key_text(k))
            .collect()
    }

    #[test]
    fn counts_sort_by_value_then_top_and_div() {
        let m = dump(vec![
            (vec![Value::Str("a".into())], Aggregate::Count(30)),
            (vec![Value::Str("b".into())], Aggregate::Count(10)),
            (vec![Value::Str("c".into())], Aggregate::Count(20)),
        ]);
        let p = prepare(&m, 2, 10);
        assert_eq!(keys(&p), ["c", "a"]);
        assert_eq!(p.entries[1].1, Shown::Value(Value::UInt(3)));
    }

    #[test]
    fn strings_sort_by_key_signed_integers() {
        let m = dump(vec![
            (
                vec![Value::UInt(0)],
                Aggregate::Value(Value::Str("x".into())),
            ),
            (
                vec![Value::UInt(u64::MAX)],
                Aggregate::Value(Value::Str("y".into())),
            ),
            (
                vec![Value::UInt(5)],
                Aggregate::Value(Value::Str("z".into())),
            ),
        ]);
        // bpftrace compares integer keys as signed: u64::MAX is -1.
        assert_eq!(keys(&prepare(&m, 0, 0)), ["18446744073709551615", "0", "5"]);
        let m = dump(vec![
            (
                vec![Value::Str("b".into()), Value::Int(1)],
                Aggregate::Value(Value::Bool(true)),
            ),
            (
                vec![Value::Str("a".into()), Value::Int(2)],
                Aggregate::Value(Value::Bool(true)),
            ),
            (
                vec![Value::Str("a".into()), Value::Int(1)],
                Aggregate::Value(Value::Bool(true)),
            ),
        ]);
        assert_eq!(keys(&prepare(&m, 0, 0)), ["a, 1", "a, 2", "b, 1"]);
    }

    #[test]
    fn min_sorts_unsigned_avg_by_average() {
        let m = dump(vec![
            (vec![Value::Int(1)], Aggregate::Min(-1)),
            (vec![Value::Int(2)], Aggregate::Min(7)),
        ]);
        assert_eq!(keys(&prepare(&m, 0, 0)), ["2", "1"]);
        let m = dump(vec![
            (
                vec![Value::Int(1)],
                Aggregate::Avg {
                    total: 40,
                    count: 2,
                },
            ),
            (
                vec![Value::Int(2)],
                Aggregate::Avg {
                    total: 10,
                    count: 1,
                },
            ),
            (vec![Value::Int(3)], Aggregate::Avg { total: 0, count: 0 }),
        ]);
        let p = prepare(&m, 0, 0);
        assert_eq!(p.family, Family::Stats);
        assert_eq!(keys(&p), ["3", "2", "1"]);
        assert_eq!(p.entries[2].1, Shown::Value(Value::Int(20)));
    }

    #[test]
    fn hists_sort_by_total_count() {
        let m = dump(vec![
            (
                vec![Value::Int(1)],
                Aggregate::Hist {
                    bits: 0,
                    buckets: vec![0, 0, 3],
                },
            ),
            (
                vec![Value::Int(2)],
                Aggregate::Hist {
                    bits: 0,
                    buckets: vec![0, 1, 0],
                },
            ),
        ]);
        let p = prepare(&m, 0, 0);
        assert_eq!(p.family, Family::Hist);
        assert_eq!(keys(&p), ["2", "1"]);
    }
}
