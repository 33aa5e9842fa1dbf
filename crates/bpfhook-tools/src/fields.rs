//! Reading a record's fields back as numbers and strings.

use bpfhook_lang::output::Value;

/// A field as a signed number (0 when it is none: the script and tool disagree only in a bug).
pub fn int(fields: &[Value], index: usize) -> i64 {
    match fields.get(index) {
        Some(Value::Int(v)) => *v,
        Some(Value::UInt(v)) => *v as i64,
        Some(Value::Bool(b)) => i64::from(*b),
        Some(Value::Symbol { number, .. }) => *number as i64,
        _ => 0,
    }
}

/// A field as an unsigned number.
pub fn uint(fields: &[Value], index: usize) -> u64 {
    int(fields, index) as u64
}

/// A field as text.
pub fn text(fields: &[Value], index: usize) -> String {
    match fields.get(index) {
        Some(Value::Str(s)) => s.clone(),
        Some(other) => other.to_text(),
        None => String::new(),
    }
}

/// A stack field's frames.
pub fn frames(fields: &[Value], index: usize) -> &[String] {
    match fields.get(index) {
        Some(Value::Stack(frames)) => frames,
        _ => &[],
    }
}
