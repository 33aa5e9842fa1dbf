//! Log2 histograms laid out as BCC's `print_log2_hist` lays them out: slot `s` (from 1)
//! counts values in [2^(s-1), 2^s - 1], slot 1 also counting 0; a 40-star bar (20 when the
//! largest slot is past 32, with wider columns).

use std::fmt::Write as _;

use bpfhook_lang::output::Aggregate;

/// Width of the bar, in stars, for histograms whose slots fit 32 bits.
const BAR: usize = 40;

/// BCC's slots from a bpftrace `hist()` (index 0: negative values, 1: zero, k ≥ 2:
/// [2^(k-2), 2^(k-1))). Zero, one and negative values share BCC's first slot.
pub fn slots(aggregate: &Aggregate) -> Vec<u64> {
    let Aggregate::Hist { buckets, .. } = aggregate else {
        return Vec::new();
    };
    let mut slots = vec![0u64; buckets.len().max(2)];
    for (index, &count) in buckets.iter().enumerate() {
        let slot = index.saturating_sub(1).max(1);
        slots[slot] += count;
    }
    slots
}

/// The bounds of slot `s`: low and high, both inclusive.
pub fn bounds(slot: usize) -> (u64, u64) {
    let high = 1u128.checked_shl(slot as u32).unwrap_or(0).wrapping_sub(1) as u64;
    let low = (1u128 << slot >> 1) as u64;
    if low == high {
        (low - 1, high)
    } else {
        (low, high)
    }
}

/// The histogram as text: header and one row per slot up to the last non-empty one; nothing
/// when every slot is empty.
pub fn log2_text(slots: &[u64], unit: &str) -> String {
    let Some(last) = slots.iter().rposition(|&c| c > 0).filter(|&i| i > 0) else {
        return String::new();
    };
    let max = slots.iter().copied().max().unwrap_or(1).max(1);
    let wide = last > 32;
    let (stars, number) = if wide { (BAR / 2, 20) } else { (BAR, 10) };
    let mut text = String::new();
    let indent = if wide { 15 } else { 5 };
    // The header's label ends where the rows' `low -> high` does.
    let label = 2 * number + " -> ".len() - indent;
    let _ = writeln!(
        text,
        "{:indent$}{unit:<label$} : count     distribution",
        ""
    );
    for (slot, &count) in slots.iter().enumerate().take(last + 1).skip(1) {
        let (low, high) = bounds(slot);
        let bar = "*".repeat(bar_len(count, max, stars));
        let _ = writeln!(
            text,
            "{low:>number$} -> {high:<number$} : {count:<8} |{bar:<stars$}|"
        );
    }
    text
}

/// Stars for `count` of `max`: the whole part of its share of the width.
fn bar_len(count: u64, max: u64, width: usize) -> usize {
    ((u128::from(count) * width as u128 / u128::from(max)) as usize).min(width)
}

/// BCC's slots (one per value from 0) from a bpftrace `lhist(v, 0, max, 1)` (index 0:
/// below 0, then one per value, the last at or above `max`).
pub fn linear_slots(aggregate: &Aggregate) -> Vec<u64> {
    match aggregate {
        Aggregate::Lhist { buckets, .. } => buckets.iter().skip(1).copied().collect(),
        _ => Vec::new(),
    }
}

/// A linear histogram as BCC's `print_linear_hist`: one row per value up to the last
/// non-empty one.
pub fn linear_text(slots: &[u64], unit: &str) -> String {
    let Some(last) = slots.iter().rposition(|&c| c > 0) else {
        return String::new();
    };
    let max = slots.iter().copied().max().unwrap_or(1).max(1);
    let mut text = format!("     {unit:<13} : count     distribution\n");
    for (value, &count) in slots.iter().enumerate().take(last + 1) {
        let bar = "*".repeat(bar_len(count, max, BAR));
        let _ = writeln!(text, "        {value:<10} : {count:<8} |{bar:<BAR$}|");
    }
    text
}

/// The histogram as JSON: its unit and the non-empty span of slots.
pub fn log2_json(slots: &[u64], unit: &str) -> serde_json::Value {
    let last = slots.iter().rposition(|&c| c > 0).unwrap_or(0);
    let buckets: Vec<_> = slots
        .iter()
        .enumerate()
        .take(last + 1)
        .skip(1)
        .map(|(slot, &count)| {
            let (low, high) = bounds(slot);
            serde_json::json!({"low": low, "high": high, "count": count})
        })
        .collect();
    serde_json::json!({"unit": unit, "buckets": buckets})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_bounds_as_bcc() {
        assert_eq!(bounds(1), (0, 1));
        assert_eq!(bounds(2), (2, 3));
        assert_eq!(bounds(3), (4, 7));
        assert_eq!(bounds(64), (1 << 63, u64::MAX));
    }

    #[test]
    fn bpftrace_buckets_become_bcc_slots() {
        // bpftrace: [neg, 0, 1, 2-3, 4-7]
        let h = Aggregate::Hist {
            bits: 0,
            buckets: vec![0, 2, 3, 4, 5],
        };
        assert_eq!(slots(&h), vec![0, 5, 4, 5, 0]);
    }

    #[test]
    fn rows_and_bars() {
        let text = log2_text(&[0, 1, 0, 4, 2], "usecs");
        let expected = "     usecs               : count     distribution\n\
\x20        0 -> 1          : 1        |**********                              |\n\
\x20        2 -> 3          : 0        |                                        |\n\
\x20        4 -> 7          : 4        |****************************************|\n\
\x20        8 -> 15         : 2        |********************                    |\n";
        assert_eq!(text, expected);
        assert_eq!(log2_text(&[0, 0, 0], "usecs"), "");
    }

    #[test]
    fn linear_rows() {
        let h = Aggregate::Lhist {
            min: 0,
            max: 100,
            step: 1,
            buckets: vec![0, 3, 1, 0],
        };
        let slots = linear_slots(&h);
        assert_eq!(slots, vec![3, 1, 0]);
        let text = linear_text(&slots, "runqlen");
        let expected = "     runqlen       : count     distribution\n\
\x20       0          : 3        |****************************************|\n\
\x20       1          : 1        |*************                           |\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn wide_slots_halve_the_bar() {
        let mut slots = vec![0u64; 40];
        slots[34] = 3;
        let text = log2_text(&slots, "nsecs");
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            format!("{:15}{:<29} : count     distribution", "", "nsecs")
        );
        let row = text.lines().nth(34).unwrap();
        assert_eq!(
            row,
            format!(
                "{:>20} -> {:<20} : {:<8} |{}|",
                1u64 << 33,
                (1u64 << 34) - 1,
                3,
                "*".repeat(20)
            )
        );
    }
}
