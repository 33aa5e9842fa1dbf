//! bpftrace's text output for maps: `@x: 3`, `@m[a, 1]: 10`, histogram blocks.

use super::map::{prepare, Shown};
use super::value::{key_text, MapDump};

/// The lines `print(@m, top, div)` writes.
pub(crate) fn map_text(m: &MapDump, top: usize, div: u64) -> String {
    let prepared = prepare(m, top, div);
    let mut out = String::new();
    if !m.keyed {
        match prepared.entries.first() {
            Some((_, Shown::Hist(rows))) => {
                out.push_str(&format!("{}:\n{}\n", m.name, rows.text()));
            }
            Some((_, Shown::Value(v))) => {
                out.push_str(&format!("{}: {}\n", m.name, v.to_text()));
            }
            Some((_, Shown::Series(series))) => {
                out.push_str(&format!("{}:\n{}\n", m.name, series.text()));
            }
            None => {}
        }
        return out;
    }
    for (key, shown) in &prepared.entries {
        let key = key_text(key);
        match shown {
            // A histogram starts on the next line and ends with an empty one.
            Shown::Hist(rows) => out.push_str(&format!("{}[{key}]:\n{}\n", m.name, rows.text())),
            Shown::Value(v) => out.push_str(&format!("{}[{key}]: {}\n", m.name, v.to_text())),
            Shown::Series(series) => {
                out.push_str(&format!("{}[{key}]:\n{}\n", m.name, series.text()))
            }
        }
    }
    out
}

/// A row of `--mode bench`'s table, after its header for the first: names in a column at
/// least 40 wide, the average time in 15.
pub(crate) fn benchmark_row(names: &[String], index: usize, average_ns: u64, iters: u64) -> String {
    const HEADER: &str = "Benchmark";
    const ITERATIONS: &str = "Iterations";
    let name_width = names.iter().map(String::len).fold(40, usize::max) + 1;
    let time_width = 15;
    let mut out = String::new();
    if index == 0 {
        out.push_str(&format!(
            "{HEADER:<name_width$}{:<time_width$}{ITERATIONS}\n",
            "Time(ns)"
        ));
        out.push_str(&"-".repeat(name_width + time_width + ITERATIONS.len()));
        out.push('\n');
    }
    let name = names.get(index).map_or("", String::as_str);
    out.push_str(&format!(
        "{name:<name_width$}{average_ns:<time_width$}{iters}\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::super::value::{Aggregate, Value};
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.to_string())
    }

    #[test]
    fn scalars() {
        assert_eq!(
            map_text(&MapDump::scalar("@x", Aggregate::Count(3)), 0, 0),
            "@x: 3\n"
        );
        let t = Value::Tuple(vec![
            Value::Int(1),
            Value::Int(2),
            s("string"),
            Value::Tuple(vec![Value::Int(4), Value::Int(5)]),
        ]);
        assert_eq!(
            map_text(&MapDump::scalar("@", Aggregate::Value(t)), 0, 0),
            "@: (1, 2, string, (4, 5))\n"
        );
        assert_eq!(
            map_text(
                &MapDump::scalar(
                    "@",
                    Aggregate::Stats {
                        count: 2,
                        total: 12
                    }
                ),
                0,
                0
            ),
            "@: { .count = 2, .average = 6, .total = 12 }\n"
        );
        assert_eq!(
            map_text(
                &MapDump::scalar("@", Aggregate::Stats { count: 0, total: 0 }),
                0,
                0
            ),
            "@: { .count = 0, .average = 0, .total = 0 }\n"
        );
        assert_eq!(
            map_text(
                &MapDump::scalar(
                    "@",
                    Aggregate::Avg {
                        total: 100,
                        count: 1
                    }
                ),
                0,
                0
            ),
            "@: 100\n"
        );
        assert_eq!(
            map_text(&MapDump::scalar("@x", Aggregate::Value(s("xxxx"))), 0, 0),
            "@x: xxxx\n"
        );
    }

    #[test]
    fn keyed_entries() {
        let m = MapDump::keyed(
            "@",
            vec![(vec![Value::UInt(u64::MAX)], Aggregate::Count(0))],
        );
        assert_eq!(map_text(&m, 0, 0), "@[18446744073709551615]: 0\n");
        let m = MapDump {
            name: "@m".into(),
            keyed: true,
            entries: vec![
                (vec![s("b"), Value::Int(2)], Aggregate::Sum(10)),
                (vec![s("a"), Value::Int(1)], Aggregate::Sum(-4)),
            ],
        };
        assert_eq!(map_text(&m, 0, 0), "@m[a, 1]: -4\n@m[b, 2]: 10\n");
        let stack = Value::Stack(vec!["f+1".into(), "main+9".into()]);
        let m = MapDump::keyed("@", vec![(vec![stack], Aggregate::Count(7))]);
        assert_eq!(
            map_text(&m, 0, 0),
            "@[\n        f+1\n        main+9\n]: 7\n"
        );
    }

    #[test]
    fn avg_with_top_and_div() {
        let m = MapDump::keyed(
            "@",
            ["a", "b", "c", "d"]
                .iter()
                .zip([10, 20, 30, 40])
                .map(|(k, v)| (vec![s(k)], Aggregate::Avg { total: v, count: 1 }))
                .collect(),
        );
        assert_eq!(map_text(&m, 2, 10), "@[c]: 3\n@[d]: 4\n");
        assert_eq!(map_text(&m, 10, 10), "@[a]: 1\n@[b]: 2\n@[c]: 3\n@[d]: 4\n");
    }

    #[test]
    fn histograms() {
        let mut buckets = vec![0u64; 8];
        buckets[3] = 1; // [2, 4)
        buckets[6] = 1; // [16, 32)
        let h = MapDump::scalar(
            "@",
            Aggregate::Hist {
                bits: 0,
                buckets: buckets.clone(),
            },
        );
        let expected = "\
@:
[2, 4)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[4, 8)                 0 |                                                    |
[8, 16)                0 |                                                    |
[16, 32)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|

";
        assert_eq!(map_text(&h, 0, 0), expected);
        let mut small = vec![0u64; 8];
        small[5] = 1; // [8, 16)
        let m = MapDump::keyed(
            "@",
            vec![
                (
                    vec![Value::Int(3)],
                    Aggregate::Hist {
                        bits: 0,
                        buckets: buckets.clone(),
                    },
                ),
                (
                    vec![Value::Int(1)],
                    Aggregate::Hist {
                        bits: 0,
                        buckets: small,
                    },
                ),
                (vec![Value::Int(2)], Aggregate::Hist { bits: 0, buckets }),
            ],
        );
        let text = map_text(&m, 2, 0);
        assert!(text.starts_with("@[3]:\n[2, 4) "), "{text}");
        assert!(text.contains("|\n\n@[2]:\n[2, 4) "), "{text}");
        assert!(!text.contains("@[1]"), "{text}");
        let zero = MapDump::scalar(
            "@h",
            Aggregate::Lhist {
                min: 0,
                max: 100,
                step: 10,
                buckets: vec![0; 12],
            },
        );
        assert_eq!(map_text(&zero, 0, 0), "@h:\n\n");
    }

    #[test]
    fn benchmark_table() {
        let names = vec!["a".to_owned(), "b".repeat(45)];
        // The longest name and a space.
        let first = benchmark_row(&names, 0, 12, 100000);
        let lines: Vec<&str> = first.lines().collect();
        assert_eq!(
            lines[0],
            format!("{:46}{:15}Iterations", "Benchmark", "Time(ns)")
        );
        assert_eq!(lines[1], "-".repeat(46 + 15 + 10));
        assert_eq!(lines[2], format!("{:46}{:<15}100000", "a", 12));
        let second = benchmark_row(&names, 1, 7, 2);
        assert_eq!(second, format!("{} 7              2\n", "b".repeat(45)));
    }
}
