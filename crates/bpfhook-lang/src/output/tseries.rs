//! Time series (`tseries()`): the intervals every key of a map shows (the map's latest
//! `num_intervals`, from each key's first), and bpftrace's text graph of one series: the
//! min/max axis, a `hh:mm:ss` row per interval with `*` at the value, `.` on the zero line,
//! `-` for an interval nothing wrote. JSON reads the same rows.

use super::value::{Aggregate, Value};

/// Columns of the graph, its `|` borders included.
const GRAPH_WIDTH: usize = 53;
/// Where the axis' maximum ends, counted from its minimum.
const AXIS_PADDING: usize = 21;

/// One key's intervals as printed: each interval's start (ns since the epoch, TAI as
/// wall-clock time) and its value, if anything wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Series {
    pub rows: Vec<(u64, Option<Value>)>,
}

/// The epochs every series of the map shows: the last `num_intervals` up to the latest epoch
/// any key wrote (bpftrace's arithmetic, wrapping: an all-zero map shows nothing).
pub(crate) fn epoch_range<'a>(
    aggregates: impl IntoIterator<Item = &'a Aggregate>,
) -> Option<(u64, u64)> {
    let mut latest = None;
    let mut count = 1;
    for a in aggregates {
        if let Aggregate::Tseries {
            num_intervals,
            points,
            ..
        } = a
        {
            count = *num_intervals;
            let last = points.iter().map(|(epoch, _)| *epoch).max().unwrap_or(0);
            latest = latest.max(Some(last));
        }
    }
    latest.map(|last| (last.wrapping_sub(count).wrapping_add(1), last))
}

impl Series {
    /// The rows of one key: from its first epoch in `range` to the range's end.
    pub(crate) fn new(interval_ns: u64, points: &[(u64, Value)], range: (u64, u64)) -> Series {
        let (start, end) = range;
        let first = points
            .iter()
            .map(|(epoch, _)| *epoch)
            .filter(|&epoch| epoch >= start)
            .fold(end, u64::min);
        let rows = (start.max(first)..=end)
            .map(|epoch| {
                let value = points
                    .iter()
                    .find(|(e, _)| *e == epoch)
                    .map(|(_, v)| v.clone());
                (epoch.wrapping_mul(interval_ns), value)
            })
            .collect();
        Series { rows }
    }

    /// The graph, every line ending in a newline; `<no data>` for a series without rows.
    pub(crate) fn text(&self) -> String {
        let (Some(first), Some(last)) = (self.rows.first(), self.rows.last()) else {
            return "<no data>\n".to_owned();
        };
        let values: Vec<i128> = self
            .rows
            .iter()
            .filter_map(|(_, v)| v.as_ref()?.as_integer())
            .collect();
        let signed = self
            .rows
            .iter()
            .any(|(_, v)| matches!(v, Some(Value::Int(_))));
        let (mut min, mut max) = match (values.iter().min(), values.iter().max()) {
            (Some(&min), Some(&max)) => (min, max),
            _ => (0, 0),
        };
        if min == max {
            // Some room on both sides of a flat line, within the type's range.
            let (floor, ceiling) = match signed {
                true => (i128::from(i64::MIN), i128::from(i64::MAX)),
                false => (0, i128::from(u64::MAX)),
            };
            min = (min - 1).max(floor);
            max = (max + 1).min(ceiling);
        }
        let steps = (self.rows.len() - 1).max(1) as u64;
        let unit = TimeUnit::of((last.0 - first.0) / steps);
        let time_format = format!("hh:mm:ss{}", unit.suffix());
        let time_width = unit.width();
        let axis = format!(
            "{:width$}{min:<AXIS_PADDING$}{max:>rest$}\n",
            "",
            width = time_width + 1,
            rest = GRAPH_WIDTH - AXIS_PADDING
        );
        let mut out = axis.clone();
        // Padded by bytes, as bpftrace's setw pads (`μs` is two).
        out.push_str(&time_format);
        out.push_str(&" ".repeat((time_width + 1).saturating_sub(time_format.len())));
        out.push_str(&format!("|{}|\n", "_".repeat(GRAPH_WIDTH - 2)));
        let span = (max - min) as f32;
        let zero = match min < 0 && max > 0 {
            true => (GRAPH_WIDTH as f32 * (-min) as f32 / span) as usize,
            false => 0,
        };
        for (ns, value) in &self.rows {
            let mut line = vec![b' '; GRAPH_WIDTH];
            line[0] = b'|';
            line[GRAPH_WIDTH - 1] = b'|';
            if zero > 0 {
                line[zero] = b'.';
            }
            let shown = match value {
                Some(v) => {
                    let n = v.as_integer().unwrap_or(0);
                    let at = ((GRAPH_WIDTH - 1) as f32 * (n - min) as f32 / span) as i64;
                    line[at.clamp(0, GRAPH_WIDTH as i64 - 1) as usize] = b'*';
                    v.to_text()
                }
                None => "-".to_owned(),
            };
            out.push_str(&format!(
                "{} {} {shown}\n",
                unit.local_time(*ns),
                String::from_utf8_lossy(&line)
            ));
        }
        out.push_str(&format!(
            "{:width$}v{}v\n",
            "",
            "_".repeat(GRAPH_WIDTH - 2),
            width = time_width + 1
        ));
        out.push_str(&axis);
        out
    }
}

/// How finely the rows' times print: by the interval between rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeUnit {
    S,
    Ms,
    Us,
    Ns,
}

impl TimeUnit {
    fn of(interval_ns: u64) -> Self {
        match interval_ns {
            1_000_000_000.. => TimeUnit::S,
            1_000_000.. => TimeUnit::Ms,
            1_000.. => TimeUnit::Us,
            _ => TimeUnit::Ns,
        }
    }

    /// Digits after the seconds.
    fn digits(self) -> usize {
        match self {
            TimeUnit::S => 0,
            TimeUnit::Ms => 3,
            TimeUnit::Us => 6,
            TimeUnit::Ns => 9,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            TimeUnit::S => "",
            TimeUnit::Ms => ".ms",
            TimeUnit::Us => ".μs",
            TimeUnit::Ns => ".ns",
        }
    }

    /// Characters of a row's time: `hh:mm:ss`, a dot and the digits.
    fn width(self) -> usize {
        match self.digits() {
            0 => 8,
            d => 9 + d,
        }
    }

    /// `hh:mm:ss.mmm` in local time.
    fn local_time(self, ns: u64) -> String {
        let seconds = (ns / 1_000_000_000) as libc::time_t;
        let fraction = ns % 1_000_000_000;
        let mut text = crate::runtime::format_time("%H:%M:%S", seconds, 0);
        let digits = self.digits();
        if digits > 0 {
            let scaled = fraction / 10u64.pow(9 - digits as u32);
            text.push_str(&format!(".{scaled:0digits$}"));
        }
        text
    }
}

/// `1970-01-01 00:00:00.500000000`: an interval's start as JSON gives it (UTC).
pub(crate) fn utc_time(ns: u64) -> String {
    let t = bpfhook::clock::utc(ns / 1_000_000_000);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:09}",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        ns % 1_000_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(values: &[(u64, i64)]) -> Vec<(u64, Value)> {
        values.iter().map(|&(e, v)| (e, Value::Int(v))).collect()
    }

    fn series(num_intervals: u64, values: &[(u64, i64)]) -> Aggregate {
        Aggregate::Tseries {
            interval_ns: 100_000_000,
            num_intervals,
            points: points(values),
        }
    }

    /// The rows' times without their hours (local time), as the peer suite compares them.
    fn without_hours(text: &str) -> String {
        text.lines()
            .map(|l| match l.get(2..3) {
                Some(":") if l.as_bytes()[0].is_ascii_digit() => format!("%H{}", &l[2..]),
                _ => l.to_owned(),
            })
            .map(|l| l + "\n")
            .collect()
    }

    #[test]
    fn the_range_ends_at_the_latest_epoch_of_any_key() {
        let one = series(10, &[(0, 0), (1, 5), (4, 5)]);
        let two = series(10, &[(5, 4), (9, 4)]);
        assert_eq!(epoch_range([&one, &two]), Some((0, 9)));
        // zero(@m): every bucket at epoch 0, so the range wraps and shows nothing.
        let zeroed = series(5, &[(0, 0)]);
        let range = epoch_range([&zeroed]).unwrap();
        assert!(Series::new(1, &points(&[(0, 0)]), range).rows.is_empty());
        assert_eq!(epoch_range([]), None);
    }

    #[test]
    fn a_key_shows_from_its_first_interval_with_gaps_as_none() {
        let s = Series::new(100, &points(&[(3, 1), (5, 2)]), (2, 6));
        let rows: Vec<_> = s.rows.iter().map(|(ns, v)| (*ns, v.is_some())).collect();
        assert_eq!(rows, [(300, true), (400, false), (500, true), (600, false)]);
    }

    #[test]
    fn the_graph_of_a_flat_line_and_of_a_zigzag() {
        let flat = Series::new(
            100_000_000,
            &[(5, Value::UInt(9)), (6, Value::UInt(9))],
            (5, 6),
        );
        let expected = [
            "             8                                                  10",
            "hh:mm:ss.ms  |___________________________________________________|",
            "%H:00:00.500 |                         *                         | 9",
            "%H:00:00.600 |                         *                         | 9",
            "             v___________________________________________________v",
            "             8                                                  10",
        ]
        .map(|l| l.to_owned() + "\n")
        .concat();
        assert_eq!(without_hours(&flat.text()), expected);
        let zigzag = Series::new(
            100_000_000,
            &points(&[(1, -5), (2, -4), (3, 0), (4, 5)]),
            (1, 4),
        );
        let text = without_hours(&zigzag.text());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("{:13}{:<21}{:>32}", "", -5, 5));
        assert_eq!(lines[2], format!("%H:00:00.100 *{:25}.{:25}| -5", "", ""));
        assert_eq!(
            lines[3],
            format!("%H:00:00.200 |    *{:20}.{:25}| -4", "", "")
        );
        assert_eq!(lines[4], format!("%H:00:00.300 |{:25}*{:25}| 0", "", ""));
        assert_eq!(lines[5], format!("%H:00:00.400 |{:25}.{:25}* 5", "", ""));
    }

    #[test]
    fn unsigned_zero_keeps_its_floor_and_empty_intervals_show_a_dash() {
        let s = Series::new(1_000_000_000, &[(1, Value::UInt(0))], (1, 2));
        let text = without_hours(&s.text());
        assert!(
            text.starts_with(&format!("{:9}{:<21}{:>32}\nhh:mm:ss |", "", 0, 1)),
            "{text}"
        );
        assert!(text.contains("%H:00:01 *"), "{text}");
        assert!(
            text.contains("%H:00:02 |                                                   | -\n"),
            "{text}"
        );
        assert_eq!(Series::default().text(), "<no data>\n");
    }

    #[test]
    fn json_times_are_utc_with_nanoseconds() {
        assert_eq!(utc_time(500_000_000), "1970-01-01 00:00:00.500000000");
        assert_eq!(
            utc_time(1_709_251_200_000_000_001),
            "2024-03-01 00:00:00.000000001"
        );
    }
}
