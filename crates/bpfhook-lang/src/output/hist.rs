//! Histograms: from the kernel's bucket counts to labelled rows (trimmed to the first and last
//! non-empty bucket), and the text block with its bars. JSON reads the same rows.

use std::fmt::Write as _;

/// Width of the `|@@@@…|` bar.
const BAR_WIDTH: usize = 52;

/// One bucket boundary: its number, and how it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Label {
    pub value: i128,
    pub text: String,
    /// A plain number (not a `1K`-style label): two plain labels one apart make a one-value
    /// bucket, shown `[n]`.
    pub plain: bool,
}

impl Label {
    fn plain(value: i128) -> Label {
        Label {
            value,
            text: value.to_string(),
            plain: true,
        }
    }
}

/// The non-empty span of a histogram: bucket `i` runs from `labels[i-1]` (or `lower` for the
/// first) up to, not including, `labels[i]`; a bucket past the last label has no upper end,
/// and without `lower` the first has no lower end.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Rows {
    pub lower: Option<Label>,
    pub labels: Vec<Label>,
    pub counts: Vec<u64>,
}

/// First and last index with a non-zero count.
fn occupied(buckets: &[u64]) -> Option<(usize, usize)> {
    let first = buckets.iter().position(|&c| c > 0)?;
    let last = buckets.iter().rposition(|&c| c > 0)?;
    Some((first, last))
}

fn pow2(power: i128) -> i128 {
    u32::try_from(power)
        .ok()
        .and_then(|p| 1i128.checked_shl(p))
        .unwrap_or(i128::MAX)
}

/// Upper end of log2 bucket `index` beyond the one-value buckets, with a K/M/G… suffix.
/// Each power of two holds 2^bits buckets; the low `bits` bits of the index pick one.
fn log2_label(index: usize, bits: u32) -> Label {
    let per_power = pow2(i128::from(bits));
    let index = index as i128;
    let interval = index & (per_power - 1);
    let power = (index.checked_shr(bits).unwrap_or(0) - 1).max(0);
    let scale = per_power.saturating_add(interval);
    let decade = (power / 10).min(6);
    let suffix = ["", "K", "M", "G", "T", "P", "E"][decade as usize];
    Label {
        value: pow2(power).saturating_mul(scale),
        text: format!(
            "{}{suffix}",
            pow2(power - 10 * decade).saturating_mul(scale)
        ),
        plain: false,
    }
}

/// Upper end of log2 bucket `index`: the first 2·2^bits buckets hold one value each.
fn log2_upper(index: usize, bits: u32) -> Label {
    if (index as i128) <= 2 * pow2(i128::from(bits)) {
        Label::plain(index as i128)
    } else {
        log2_label(index, bits)
    }
}

/// Rows of `hist(n, bits)`, counts divided by `div` (`print(@h, 0, div)`).
pub(crate) fn log2_rows(buckets: &[u64], bits: u32, div: u64) -> Rows {
    let Some((first, last)) = occupied(buckets) else {
        return Rows::default();
    };
    let div = div.max(1);
    Rows {
        lower: (first > 0).then(|| log2_upper(first - 1, bits)),
        labels: (first..=last)
            .map(|i| {
                if i == 0 {
                    Label::plain(0)
                } else {
                    log2_upper(i, bits)
                }
            })
            .collect(),
        counts: buckets[first..=last].iter().map(|c| c / div).collect(),
    }
}

/// A linear bucket boundary; steps that are multiples of 1024 get K/M labels.
fn linear_label(value: i128, step: i64) -> Label {
    const KILO: i128 = 1024;
    const MEGA: i128 = 1024 * 1024;
    if i128::from(step) % KILO != 0 {
        return Label::plain(value);
    }
    let text = if value == 0 {
        "0".to_string()
    } else if value % MEGA == 0 {
        format!("{}M", value / MEGA)
    } else if value % KILO == 0 {
        format!("{}K", value / KILO)
    } else {
        value.to_string()
    };
    Label {
        value,
        text,
        plain: false,
    }
}

/// Rows of `lhist(n, min, max, step)` (bpftrace does not divide these).
pub(crate) fn linear_rows(buckets: &[u64], min: i64, max: i64, step: i64) -> Rows {
    let Some((first, last)) = occupied(buckets) else {
        return Rows::default();
    };
    let bound = |i: usize| i128::from(min) + i as i128 * i128::from(step);
    Rows {
        lower: (first > 0).then(|| linear_label(bound(first - 1), step)),
        // The bucket at or above max has no upper label.
        labels: (first..=last)
            .map(bound)
            .take_while(|&b| b <= i128::from(max))
            .map(|b| linear_label(b, step))
            .collect(),
        counts: buckets[first..=last].to_vec(),
    }
}

/// `[a, b)`, `[a]` when the bucket holds one value, `(..., b)` or `[a, ...)` for open ends.
fn header(lower: Option<&Label>, upper: Option<&Label>) -> String {
    match (lower, upper) {
        (None, Some(u)) => format!("(..., {})", u.text),
        (Some(l), None) => format!("[{}, ...)", l.text),
        (Some(l), Some(u)) if l.plain && u.plain && l.value + 1 == u.value => {
            format!("[{}]", l.text)
        }
        (Some(l), Some(u)) => format!("[{}, {})", l.text, u.text),
        (None, None) => String::new(),
    }
}

impl Rows {
    /// Lower and upper ends of each row.
    pub(crate) fn bounds(&self) -> impl Iterator<Item = (Option<&Label>, Option<&Label>, u64)> {
        self.counts.iter().enumerate().map(|(i, &count)| {
            let lower = match i {
                0 => self.lower.as_ref(),
                _ => self.labels.get(i - 1),
            };
            (lower, self.labels.get(i), count)
        })
    }

    /// The text block: one line per bucket, label, count and bar scaled to the largest count.
    pub(crate) fn text(&self) -> String {
        let largest = self.counts.iter().copied().max().unwrap_or(0);
        let mut out = String::new();
        for (lower, upper, count) in self.bounds() {
            // bpftrace scales in single precision; the same arithmetic gives the same bars.
            let bar = (count as f32 / largest as f32 * BAR_WIDTH as f32) as usize;
            let _ = writeln!(
                out,
                "{:<16}{count:>8} |{:<BAR_WIDTH$}|",
                header(lower, upper),
                "@".repeat(bar.min(BAR_WIDTH))
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bucket index of `v` in a `hist(v)` with 0 bits.
    fn log2_index(v: i64) -> usize {
        match v {
            ..0 => 0,
            0 => 1,
            _ => 2 + v.ilog2() as usize,
        }
    }

    fn log2_of(values: &[i64]) -> Vec<u64> {
        let mut buckets = vec![0u64; 66];
        for &v in values {
            buckets[log2_index(v)] += 1;
        }
        buckets
    }

    #[test]
    fn log2_block_with_negative_and_singles() {
        let rows = log2_rows(&log2_of(&[-1, 2, 3, 4, 16]), 0, 1);
        let expected = "\
(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[0]                    0 |                                                    |
[1]                    0 |                                                    |
[2, 4)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[8, 16)                0 |                                                    |
[16, 32)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
";
        assert_eq!(rows.text(), expected);
    }

    #[test]
    fn log2_trims_leading_buckets_and_uses_suffixes() {
        let rows = log2_rows(&log2_of(&[2, 16]), 0, 1);
        let text = rows.text();
        assert!(text.starts_with("[2, 4)                 1 |@@@@"), "{text}");
        assert_eq!(text.lines().count(), 4);
        let big = log2_rows(&log2_of(&[1024, 1 << 20, 1 << 30, 1 << 40]), 0, 1);
        let headers: Vec<String> = big
            .text()
            .lines()
            .map(|l| l[..16].trim_end().to_string())
            .collect();
        assert_eq!(headers.first().map(String::as_str), Some("[1K, 2K)"));
        assert!(headers.contains(&"[1M, 2M)".to_string()));
        assert!(headers.contains(&"[512K, 1M)".to_string()));
        assert_eq!(headers.last().map(String::as_str), Some("[1T, 2T)"));
    }

    #[test]
    fn log2_top_bucket_of_u64_does_not_overflow() {
        let mut buckets = vec![0u64; 66];
        buckets[65] = 1;
        let rows = log2_rows(&buckets, 0, 1);
        assert_eq!(
            rows.text().lines().next().map(|l| &l[..16]),
            Some("[8E, 16E)       ")
        );
    }

    #[test]
    fn log2_with_sub_buckets() {
        // hist(n, 3): values 0..15 one per bucket, then 8 buckets per power of two.
        let mut buckets = vec![0u64; 80];
        for v in 0..1024i64 {
            let index = if v < 16 {
                v as usize + 1
            } else {
                let power = v.ilog2() as usize;
                let sub = ((v >> (power - 3)) & 7) as usize;
                (power - 2) * 8 + sub + 1
            };
            buckets[index] += 1;
        }
        let rows = log2_rows(&buckets, 3, 1);
        let bounds: Vec<_> = rows
            .bounds()
            .map(|(l, u, c)| (l.map(|l| l.value), u.map(|u| u.value), c))
            .collect();
        assert_eq!(bounds[0], (Some(0), Some(1), 1));
        assert_eq!(bounds[15], (Some(15), Some(16), 1));
        assert_eq!(bounds[16], (Some(16), Some(18), 2));
        assert_eq!(bounds.last(), Some(&(Some(960), Some(1024), 64)));
        assert_eq!(bounds.len(), 64);
        let text = rows.text();
        assert!(text.contains("\n[15]    "), "{text}");
        assert!(text.contains("\n[16, 18)"), "{text}");
        // The suffix follows the power of two, not the value: 2^7 * 8 stays 1024.
        assert!(text.contains("\n[960, 1024)"), "{text}");
    }

    #[test]
    fn linear_block_with_open_ends() {
        // lhist(n, 0, 10, 2) after -1, 2, 3, 6, 10.
        let buckets = [1, 0, 2, 0, 1, 0, 1];
        let expected = "\
(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[0, 2)                 0 |                                                    |
[2, 4)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[4, 6)                 0 |                                                    |
[6, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[8, 10)                0 |                                                    |
[10, ...)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
";
        assert_eq!(linear_rows(&buckets, 0, 10, 2).text(), expected);
    }

    #[test]
    fn linear_overflow_only_and_kilo_steps() {
        let mut buckets = vec![0u64; 12];
        buckets[11] = 3;
        let rows = linear_rows(&buckets, 0, 100, 10);
        assert!(rows.text().starts_with("[100, ...)             3 |"));
        let rows = linear_rows(&[0, 1, 1, 0], 0, 2048, 1024);
        let text = rows.text();
        assert!(text.starts_with("[0, 1K)   "), "{text}");
        assert!(text.contains("\n[1K, 2K)  "), "{text}");
        // step 1: each bucket is one value.
        assert!(linear_rows(&[0, 0, 4], 0, 5, 1).text().starts_with("[1]  "));
    }

    #[test]
    fn empty_and_divided() {
        assert_eq!(log2_rows(&[0, 0, 0], 0, 1).text(), "");
        let rows = log2_rows(&log2_of(&[8, 8, 8, 8]), 0, 2);
        assert_eq!(rows.counts, vec![2]);
        // Everything divided away: no bar, no panic.
        let rows = log2_rows(&log2_of(&[8]), 0, 10);
        assert!(rows.text().starts_with("[8, 16)                0 |  "));
    }
}
