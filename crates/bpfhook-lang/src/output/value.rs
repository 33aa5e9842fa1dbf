//! The values the runtime decodes from records and maps, and their text form (what `print`,
//! `%s` and map entries show).

use std::fmt::Write as _;

/// Spaces before each frame of a stack, as bpftrace indents them.
const STACK_INDENT: &str = "        ";

/// One decoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A value of no type (a union member bpftrace cannot decode): `null`.
    None,
    /// `true` / `false`.
    Bool(bool),
    /// A signed integer of any width, sign-extended.
    Int(i64),
    /// An unsigned integer of any width, zero-extended.
    UInt(u64),
    /// A string (`str()`, `comm`, `ksym()`, `usym()`, `ntop()`, `strftime()`, `macaddr()`…),
    /// already resolved and truncated, printed verbatim in text and quoted in JSON.
    Str(String),
    /// The bytes of `buf()`: escaped in text, an array of (signed) bytes in JSON.
    Buffer(Vec<u8>),
    /// `(a, b)`.
    Tuple(Vec<Value>),
    /// A struct or a named tuple: fields in declaration order.
    Record(Vec<(String, Value)>),
    /// A C array.
    Array(Vec<Value>),
    /// A number with a name: an enum value (`name` its enumerator, or the number when it has
    /// none) or a pointer (`name` "0x…"). Text shows the name, JSON and `%d` the number.
    Symbol { name: String, number: u64 },
    /// `kstack`/`ustack` frames, already symbolized ("do_sys_open+28"). Printed as bpftrace's
    /// default stack mode: a newline, then each frame indented on its own line.
    Stack(Vec<String>),
    /// A duration in nanoseconds (`100ms` in text, `100000000ns` in JSON).
    Duration(u64),
}

impl Value {
    /// The number behind an integer-like value, for `%d` and friends.
    pub(crate) fn as_integer(&self) -> Option<i128> {
        match self {
            Value::Int(v) => Some(i128::from(*v)),
            Value::UInt(v) => Some(i128::from(*v)),
            Value::Bool(b) => Some(i128::from(*b)),
            Value::Symbol { number, .. } => Some(i128::from(*number)),
            _ => None,
        }
    }

    /// The text form, as `print(value)` shows it.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        self.write_text(&mut s);
        s
    }

    pub(crate) fn write_text(&self, out: &mut String) {
        match self {
            Value::None => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Value::UInt(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Str(s) => out.push_str(s),
            Value::Buffer(bytes) => out.push_str(&escape_buffer(bytes, BufferStyle::Escaped)),
            Value::Tuple(items) => {
                out.push('(');
                write_joined(out, items, ", ");
                out.push(')');
            }
            Value::Array(items) => {
                out.push('[');
                write_joined(out, items, ",");
                out.push(']');
            }
            Value::Record(fields) if fields.is_empty() => out.push_str("{}"),
            Value::Record(fields) => {
                out.push_str("{ ");
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push('.');
                    out.push_str(name);
                    out.push_str(" = ");
                    value.write_text(out);
                }
                out.push_str(" }");
            }
            Value::Symbol { name, .. } => out.push_str(name),
            Value::Stack(frames) => out.push_str(&stack_text(frames)),
            Value::Duration(ns) => {
                let (unit, scale) = duration_unit(*ns);
                let _ = write!(out, "{}{unit}", ns / scale);
            }
        }
    }
}

fn write_joined(out: &mut String, items: &[Value], separator: &str) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        item.write_text(out);
    }
}

/// A stack as one string: a leading newline, then one indented line per frame.
pub(crate) fn stack_text(frames: &[String]) -> String {
    let mut s = String::from("\n");
    for frame in frames {
        s.push_str(STACK_INDENT);
        s.push_str(frame);
        s.push('\n');
    }
    s
}

/// The largest unit that fits, and its size in nanoseconds.
fn duration_unit(ns: u64) -> (&'static str, u64) {
    match ns {
        1_000_000_000.. => ("s", 1_000_000_000),
        1_000_000.. => ("ms", 1_000_000),
        1_000.. => ("μs", 1_000),
        _ => ("ns", 1),
    }
}

/// How `buf()` bytes are shown: `%r` and text (`Escaped`), `%rx` (`Hex`), `%rh` (`Spaced`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BufferStyle {
    /// Printable ASCII as is, every other byte `\xNN`.
    Escaped,
    /// Every byte `\xNN`.
    Hex,
    /// Every byte `NN`, separated by spaces.
    Spaced,
}

pub(crate) fn escape_buffer(bytes: &[u8], style: BufferStyle) -> String {
    let mut s = String::with_capacity(bytes.len() * 4);
    for (i, &b) in bytes.iter().enumerate() {
        match style {
            BufferStyle::Escaped if (32..=126).contains(&b) => s.push(char::from(b)),
            BufferStyle::Escaped | BufferStyle::Hex => {
                let _ = write!(s, "\\x{b:02x}");
            }
            BufferStyle::Spaced => {
                if i > 0 {
                    s.push(' ');
                }
                let _ = write!(s, "{b:02x}");
            }
        }
    }
    s
}

/// A map's value as the kernel holds it (summed over CPUs by the runtime).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aggregate {
    /// A plain assigned value (`@x = 5`, `@s = "hi"`, `@t = (1, 2)`).
    Value(Value),
    /// `count()`.
    Count(u64),
    /// `sum()`.
    Sum(i64),
    /// `min()`.
    Min(i64),
    /// `max()`.
    Max(i64),
    /// `avg()`: printed as the integer average.
    Avg { total: i64, count: u64 },
    /// `stats()`: printed as count, average and total.
    Stats { count: u64, total: i64 },
    /// `hist(n, bits)`: index 0 counts values below 0; then each power of two is split into
    /// 2^bits buckets, the first two powers one value per bucket (see [`super::hist`]). With
    /// `bits` 0: index 1 holds 0, index k ≥ 2 holds [2^(k-2), 2^(k-1)).
    Hist { bits: u32, buckets: Vec<u64> },
    /// `lhist(n, min, max, step)`: index 0 counts values below `min`, then one bucket per step,
    /// the last one values at or above `max`.
    Lhist {
        min: i64,
        max: i64,
        step: i64,
        buckets: Vec<u64>,
    },
    /// `tseries(n, interval, num_intervals)`: each interval the key's buckets hold (its
    /// epoch, `timestamp / interval_ns`) and the value it ended with; epoch 0 stands for
    /// buckets never written (bpftrace shows them as the interval starting at 0).
    Tseries {
        interval_ns: u64,
        num_intervals: u64,
        points: Vec<(u64, Value)>,
    },
}

/// A map as `print(@m)` or the exit dump shows it.
///
/// An unkeyed map has one entry with an empty key; an unkeyed map the program never wrote
/// should be given with the zero value of its type (bpftrace prints `@x: 0` for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDump {
    /// With the `@`: "@x", or "@" for the anonymous map.
    pub name: String,
    /// Whether the map has keys (`@m[k]`) or is a scalar (`@x`).
    pub keyed: bool,
    /// Key parts (empty for a scalar map) and the value.
    pub entries: Vec<(Vec<Value>, Aggregate)>,
}

impl MapDump {
    /// A map without keys holding one value.
    pub fn scalar(name: &str, value: Aggregate) -> Self {
        Self {
            name: name.into(),
            keyed: false,
            entries: vec![(Vec::new(), value)],
        }
    }

    /// A keyed map and its entries.
    pub fn keyed(name: &str, entries: Vec<(Vec<Value>, Aggregate)>) -> Self {
        Self {
            name: name.into(),
            keyed: true,
            entries,
        }
    }
}

/// The key's text as bpftrace shows it between `@m[` and `]` (before JSON strips spaces):
/// a multi-part key is a tuple, and a tuple loses its outer parentheses.
pub(crate) fn key_text(parts: &[Value]) -> String {
    let text = match parts {
        [one] => one.to_text(),
        _ => Value::Tuple(parts.to_vec()).to_text(),
    };
    match text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        Some(inner) => inner.to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.to_string())
    }

    #[test]
    fn tuples_have_spaces_arrays_do_not() {
        let t = Value::Tuple(vec![
            Value::Int(1),
            Value::Int(2),
            s("string"),
            Value::Tuple(vec![Value::Int(4), Value::Int(5)]),
        ]);
        assert_eq!(t.to_text(), "(1, 2, string, (4, 5))");
        let a = Value::Array(vec![
            Value::Array(vec![Value::Int(5), Value::Int(6)]),
            Value::Array(vec![Value::Int(7), Value::Int(8)]),
        ]);
        assert_eq!(a.to_text(), "[[5,6],[7,8]]");
        assert_eq!(Value::Tuple(vec![Value::Int(0), s("")]).to_text(), "(0, )");
    }

    #[test]
    fn records_and_scalars() {
        let r = Value::Record(vec![
            ("m".into(), Value::Int(2)),
            ("n".into(), Value::Int(3)),
        ]);
        assert_eq!(r.to_text(), "{ .m = 2, .n = 3 }");
        assert_eq!(Value::Record(vec![]).to_text(), "{}");
        assert_eq!(Value::Bool(false).to_text(), "false");
        assert_eq!(Value::None.to_text(), "null");
        assert_eq!(Value::UInt(u64::MAX).to_text(), "18446744073709551615");
        let e = Value::Symbol {
            name: "ONE".into(),
            number: 1,
        };
        assert_eq!(e.to_text(), "ONE");
        assert_eq!(Value::Duration(100_000_000).to_text(), "100ms");
        assert_eq!(Value::Duration(999).to_text(), "999ns");
    }

    #[test]
    fn buffers_and_stacks() {
        let b = b"Hello\0".to_vec();
        assert_eq!(escape_buffer(&b, BufferStyle::Escaped), "Hello\\x00");
        assert_eq!(
            escape_buffer(&b, BufferStyle::Hex),
            "\\x48\\x65\\x6c\\x6c\\x6f\\x00"
        );
        assert_eq!(escape_buffer(&b, BufferStyle::Spaced), "48 65 6c 6c 6f 00");
        let st = Value::Stack(vec!["f+1".into(), "main+2".into()]);
        assert_eq!(st.to_text(), "\n        f+1\n        main+2\n");
    }

    #[test]
    fn keys_lose_tuple_parentheses() {
        assert_eq!(key_text(&[s("a"), Value::Int(1)]), "a, 1");
        assert_eq!(key_text(&[Value::UInt(u64::MAX)]), "18446744073709551615");
        let nested = Value::Tuple(vec![Value::Int(1), Value::Int(2)]);
        assert_eq!(key_text(std::slice::from_ref(&nested)), "1, 2");
        assert_eq!(key_text(&[nested, Value::Int(3)]), "(1, 2), 3");
    }
}
