//! bpftrace's `-f json` encoding: one object per line, spaced as bpftrace spaces it
//! (`", "` and `": "` in objects, no spaces in arrays).

use std::fmt::Write as _;

use super::hist::{Label, Rows};
use super::map::{prepare, Family, Shown};
use super::tseries::{utc_time, Series};
use super::value::{key_text, stack_text, MapDump, Value};

/// A JSON string literal.
pub(crate) fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number, quoted when a double cannot hold it exactly (as bpftrace does, per RFC 8259).
fn number(v: i128) -> String {
    let exact = (v as f64) as i128 == v;
    match exact {
        true => v.to_string(),
        false => format!("\"{v}\""),
    }
}

fn joined<T>(items: impl IntoIterator<Item = T>, sep: &str, f: impl Fn(T) -> String) -> String {
    items.into_iter().map(f).collect::<Vec<_>>().join(sep)
}

/// A value as bpftrace encodes it: enums and pointers as their numbers, buffers as arrays of
/// signed bytes, stacks as their text.
pub(crate) fn value(v: &Value) -> String {
    match v {
        Value::None => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => number(i128::from(*i)),
        Value::UInt(u) => number(i128::from(*u)),
        Value::Symbol { number: n, .. } => number(i128::from(*n)),
        Value::Str(s) => string(s),
        Value::Buffer(bytes) => format!("[{}]", joined(bytes, ",", |&b| (b as i8).to_string())),
        Value::Tuple(items) | Value::Array(items) => format!("[{}]", joined(items, ",", value)),
        Value::Record(fields) => format!(
            "{{{}}}",
            joined(fields, ", ", |(k, v)| format!(
                "{}: {}",
                string(k),
                value(v)
            ))
        ),
        Value::Stack(frames) => string(&stack_text(frames)),
        Value::Duration(ns) => format!("\"{ns}ns\""),
    }
}

/// A histogram: `{"min": …, "max": …, "count": …}` per bucket, `max` inclusive, an open end
/// leaving its field out.
fn hist(rows: &Rows) -> String {
    let bucket = |(lower, upper, count): (Option<&Label>, Option<&Label>, u64)| {
        let mut s = String::from("{");
        if let Some(l) = lower {
            let _ = write!(s, "\"min\": {}, ", number(l.value));
        }
        if let Some(u) = upper {
            let _ = write!(s, "\"max\": {}, ", number(u.value.saturating_sub(1)));
        }
        let _ = write!(s, "\"count\": {count}}}");
        s
    };
    format!("[{}]", joined(rows.bounds(), ",", bucket))
}

/// A time series: `{"interval_start": …, "value": …}` per interval that has a value.
fn series(series: &Series) -> String {
    let point = |(ns, v): &(u64, Option<Value>)| {
        let v = v.as_ref()?;
        let start = string(&utc_time(*ns));
        Some(format!(
            r#"{{"interval_start":{start},"value":{}}}"#,
            value(v)
        ))
    };
    format!(
        "[{}]",
        joined(series.rows.iter().filter_map(point), ",", |p| p)
    )
}

fn shown(s: &Shown) -> String {
    match s {
        Shown::Value(v) => value(v),
        Shown::Hist(rows) => hist(rows),
        Shown::Series(s) => series(s),
    }
}

/// `{"type": "…", "data": …}`.
pub(crate) fn record(kind: &str, data: &str) -> String {
    format!("{{\"type\": {}, \"data\": {data}}}", string(kind))
}

/// The record for `print(@m, top, div)`; `None` where bpftrace prints nothing (a keyed map
/// without entries, unless it holds averages or stats).
pub(crate) fn map(m: &MapDump, top: usize, div: u64) -> Option<String> {
    let prepared = prepare(m, top, div);
    let kind = match prepared.family {
        Family::Plain => "map",
        Family::Stats => "stats",
        Family::Hist => "hist",
        Family::Tseries => "tseries",
    };
    let data = if m.keyed {
        if prepared.entries.is_empty() && prepared.family != Family::Stats {
            return None;
        }
        let entry = |(key, s): &(Vec<Value>, Shown)| {
            // Keys are strings: the text form, without tuple parentheses or spaces.
            let key: String = key_text(key).chars().filter(|&c| c != ' ').collect();
            format!("{}: {}", string(&key), shown(s))
        };
        format!("{{{}}}", joined(&prepared.entries, ", ", entry))
    } else {
        match prepared.entries.first() {
            Some((_, s)) => shown(s),
            None if prepared.family == Family::Hist => "[]".into(),
            None => return None,
        }
    };
    Some(record(kind, &format!("{{{}: {data}}}", string(&m.name))))
}

#[cfg(test)]
mod tests {
    use super::super::value::Aggregate;
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.to_string())
    }

    fn parsed(s: &str) -> serde_json::Value {
        serde_json::from_str(s).expect("valid JSON")
    }

    #[test]
    fn scalar_and_keyed_maps() {
        let m = map(
            &MapDump::scalar("@scalar", Aggregate::Value(Value::Int(5))),
            0,
            0,
        );
        assert_eq!(
            m.as_deref(),
            Some(r#"{"type": "map", "data": {"@scalar": 5}}"#)
        );
        let m = map(
            &MapDump::scalar("@scalar_str", Aggregate::Value(s("a b \n d e"))),
            0,
            0,
        );
        assert_eq!(
            m.as_deref(),
            Some(r#"{"type": "map", "data": {"@scalar_str": "a b \n d e"}}"#)
        );
        let m = MapDump::keyed(
            "@map",
            vec![
                (vec![s("key2")], Aggregate::Value(Value::Int(3))),
                (vec![s("key1")], Aggregate::Value(Value::Int(2))),
            ],
        );
        assert_eq!(
            map(&m, 0, 0).as_deref(),
            Some(r#"{"type": "map", "data": {"@map": {"key1": 2, "key2": 3}}}"#)
        );
        let m = MapDump::keyed(
            "@complex",
            vec![(
                vec![s("bpftrace"), Value::Int(2)],
                Aggregate::Value(Value::Int(5)),
            )],
        );
        assert_eq!(
            map(&m, 0, 0).as_deref(),
            Some(r#"{"type": "map", "data": {"@complex": {"bpftrace,2": 5}}}"#)
        );
        assert_eq!(map(&MapDump::keyed("@e", vec![]), 0, 0), None);
    }

    #[test]
    fn values() {
        let t = Value::Tuple(vec![
            Value::Int(1),
            Value::Int(2),
            s("string"),
            Value::Tuple(vec![Value::Int(4), Value::Int(5)]),
        ]);
        assert_eq!(value(&t), r#"[1,2,"string",[4,5]]"#);
        let r = Value::Record(vec![
            ("a".into(), Value::Int(0)),
            ("c".into(), s("str")),
            ("d".into(), Value::Tuple(vec![Value::Int(5), Value::Int(6)])),
            ("e".into(), Value::Record(vec![("x".into(), Value::Int(1))])),
            ("f".into(), Value::None),
        ]);
        assert_eq!(
            value(&r),
            r#"{"a": 0, "c": "str", "d": [5,6], "e": {"x": 1}, "f": null}"#
        );
        assert_eq!(
            value(&Value::Tuple(vec![Value::Bool(true), Value::Bool(false)])),
            "[true,false]"
        );
        assert_eq!(
            value(&Value::Symbol {
                name: "FOO".into(),
                number: 333
            }),
            "333"
        );
        assert_eq!(
            value(&Value::Symbol {
                name: "0x32".into(),
                number: 50
            }),
            "50"
        );
        assert_eq!(value(&Value::Buffer(vec![0x48, 0x00, 0xff])), "[72,0,-1]");
        assert_eq!(value(&Value::UInt(u64::MAX)), "\"18446744073709551615\"");
        assert_eq!(value(&Value::Int(1 << 53)), "9007199254740992");
        assert_eq!(value(&Value::Int((1 << 53) + 1)), "\"9007199254740993\"");
        assert_eq!(value(&s("q\"\\\r\t\u{1}é")), r#""q\"\\\r\t\u0001é""#);
        assert_eq!(
            value(&Value::Stack(vec!["f+1".into()])),
            r#""\n        f+1\n""#
        );
        assert_eq!(value(&Value::Duration(5)), r#""5ns""#);
    }

    #[test]
    fn stats_and_avg() {
        let m = map(
            &MapDump::scalar(
                "@stats",
                Aggregate::Stats {
                    count: 2,
                    total: 12,
                },
            ),
            0,
            0,
        );
        assert_eq!(
            m.as_deref(),
            Some(
                r#"{"type": "stats", "data": {"@stats": {"count": 2, "average": 6, "total": 12}}}"#
            )
        );
        let m = MapDump::keyed(
            "@",
            ["a", "b", "c", "d"]
                .iter()
                .zip([10, 20, 30, 40])
                .map(|(k, v)| (vec![s(k)], Aggregate::Avg { total: v, count: 1 }))
                .collect(),
        );
        assert_eq!(
            map(&m, 2, 10).as_deref(),
            Some(r#"{"type": "stats", "data": {"@": {"c": 3, "d": 4}}}"#)
        );
        assert_eq!(
            map(&MapDump::keyed("@", vec![]), 0, 0).map(|_| ()),
            None,
            "an empty keyed plain map prints nothing"
        );
    }

    fn log2(values: &[i64]) -> Vec<u64> {
        let mut b = vec![0u64; 66];
        for &v in values {
            let i = match v {
                ..0 => 0,
                0 => 1,
                _ => 2 + v.ilog2() as usize,
            };
            b[i] += 1;
        }
        b
    }

    #[test]
    fn histograms() {
        let m = MapDump::scalar(
            "@hist",
            Aggregate::Hist {
                bits: 0,
                buckets: log2(&[2, 1025]),
            },
        );
        let got = map(&m, 0, 0).expect("printed");
        let expected = r#"{"type": "hist", "data": {"@hist": [{"min": 2, "max": 3, "count": 1},{"min": 4, "max": 7, "count": 0},{"min": 8, "max": 15, "count": 0},{"min": 16, "max": 31, "count": 0},{"min": 32, "max": 63, "count": 0},{"min": 64, "max": 127, "count": 0},{"min": 128, "max": 255, "count": 0},{"min": 256, "max": 511, "count": 0},{"min": 512, "max": 1023, "count": 0},{"min": 1024, "max": 2047, "count": 1}]}}"#;
        assert_eq!(got, expected);

        let m = MapDump::keyed(
            "@",
            vec![
                (
                    vec![s("curl")],
                    Aggregate::Hist {
                        bits: 0,
                        buckets: log2(&[-1, 0, 511, 1024, 1025]),
                    },
                ),
                (
                    vec![s("bpftrace")],
                    Aggregate::Hist {
                        bits: 0,
                        buckets: log2(&[2]),
                    },
                ),
            ],
        );
        let got = parsed(&map(&m, 0, 0).expect("printed"));
        let curl = &got["data"]["@"]["curl"];
        assert_eq!(curl[0], parsed(r#"{"max": -1, "count": 1}"#));
        assert_eq!(curl[1], parsed(r#"{"min": 0, "max": 0, "count": 1}"#));
        assert_eq!(curl[2], parsed(r#"{"min": 1, "max": 1, "count": 0}"#));
        assert_eq!(
            curl[12],
            parsed(r#"{"min": 1024, "max": 2047, "count": 2}"#)
        );
        assert_eq!(
            got["data"]["@"]["bpftrace"],
            parsed(r#"[{"min": 2, "max": 3, "count": 1}]"#)
        );

        let zero = MapDump::scalar(
            "@hist",
            Aggregate::Hist {
                bits: 0,
                buckets: vec![0; 66],
            },
        );
        assert_eq!(
            map(&zero, 0, 0).as_deref(),
            Some(r#"{"type": "hist", "data": {"@hist": []}}"#)
        );
    }

    #[test]
    fn fine_grained_and_linear_histograms() {
        // hist($i, 3) for $i in 0..1024.
        let mut buckets = vec![0u64; 80];
        for v in 0..1024i64 {
            let index = if v < 16 {
                v as usize + 1
            } else {
                let p = v.ilog2() as usize;
                (p - 2) * 8 + ((v >> (p - 3)) & 7) as usize + 1
            };
            buckets[index] += 1;
        }
        let got = parsed(
            &map(
                &MapDump::scalar("@", Aggregate::Hist { bits: 3, buckets }),
                0,
                0,
            )
            .expect("printed"),
        );
        let rows = got["data"]["@"].as_array().expect("array");
        assert_eq!(rows.len(), 64);
        assert_eq!(rows[0], parsed(r#"{"min": 0, "max": 0, "count": 1}"#));
        assert_eq!(rows[16], parsed(r#"{"min": 16, "max": 17, "count": 2}"#));
        assert_eq!(
            rows[63],
            parsed(r#"{"min": 960, "max": 1023, "count": 64}"#)
        );

        // lhist(n, 0, 100, 10) after 2, 50, 1000.
        let mut lb = vec![0u64; 12];
        lb[1] = 1;
        lb[6] = 1;
        lb[11] = 1;
        let got = parsed(
            &map(
                &MapDump::scalar(
                    "@h",
                    Aggregate::Lhist {
                        min: 0,
                        max: 100,
                        step: 10,
                        buckets: lb,
                    },
                ),
                0,
                0,
            )
            .expect("printed"),
        );
        let rows = got["data"]["@h"].as_array().expect("array");
        assert_eq!(rows.len(), 11);
        assert_eq!(rows[0], parsed(r#"{"min": 0, "max": 9, "count": 1}"#));
        assert_eq!(rows[5], parsed(r#"{"min": 50, "max": 59, "count": 1}"#));
        assert_eq!(rows[10], parsed(r#"{"min": 100, "count": 1}"#));
    }

    #[test]
    fn hist_top() {
        let m = MapDump::keyed(
            "@",
            vec![
                (
                    vec![Value::Int(1)],
                    Aggregate::Hist {
                        bits: 0,
                        buckets: log2(&[10]),
                    },
                ),
                (
                    vec![Value::Int(2)],
                    Aggregate::Hist {
                        bits: 0,
                        buckets: log2(&[20]),
                    },
                ),
                (
                    vec![Value::Int(3)],
                    Aggregate::Hist {
                        bits: 0,
                        buckets: log2(&[30]),
                    },
                ),
            ],
        );
        assert_eq!(
            map(&m, 2, 0).as_deref(),
            Some(
                r#"{"type": "hist", "data": {"@": {"2": [{"min": 16, "max": 31, "count": 1}], "3": [{"min": 16, "max": 31, "count": 1}]}}}"#
            )
        );
    }
}
