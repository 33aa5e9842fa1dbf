//! A real time series and a real benchmark, end to end on the running kernel (as root): the
//! script compiled, loaded, run and its output read back as a person would see it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bpfhook_lang::output::{new_output, OutputFormat};
use bpfhook_lang::runtime::{self, RunOptions};
use bpfhook_lang::sema::Settings;

/// A writer the test keeps a handle on.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Quiet, no command, `bench` as given.
fn options(bench: bool) -> RunOptions {
    RunOptions {
        warnings: true,
        quiet: true,
        bench,
        ..RunOptions::default()
    }
}

/// Runs `source` to its end; what it wrote to stdout, in `format`.
fn run(source: &str, format: OutputFormat, bench: bool) -> String {
    let script = bpfhook_lang::compile("stdin", source, Settings::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let out = Shared::default();
    let mut output = new_output(format, Box::new(out.clone()), Box::new(std::io::sink()));
    let code = runtime::run(
        &script.compiled,
        &script.analysis,
        options(bench),
        output.as_mut(),
    )
    .unwrap_or_else(|e| panic!("running {source}: {e}"));
    assert_eq!(code, 0);
    drop(output);
    let bytes = out.0.lock().expect("lock").clone();
    String::from_utf8(bytes).expect("UTF-8")
}

fn now_ns() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.expect("after 1970").as_nanos() as u64
}

/// "2026-12-03 18:20:01.230000000" → nanoseconds since the epoch (UTC).
fn parse_utc(text: &str) -> u64 {
    let field = |range: std::ops::Range<usize>| text[range].parse::<i64>().expect("a number");
    let (y, m, d) = (field(0..4), field(5..7), field(8..10));
    // Days from civil (Howard Hinnant), the inverse of what the output uses.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let seconds = days * 86_400 + field(11..13) * 3600 + field(14..16) * 60 + field(17..19);
    seconds as u64 * 1_000_000_000 + field(20..29) as u64
}

#[test]
fn a_time_series_of_a_timer_counts_up_interval_by_interval() {
    let before = now_ns();
    let source = "i:ms:20 { @n = count(); @t = tseries(@n, 20ms, 50); if (@n >= 6) { exit(); } }";
    let out = run(source, OutputFormat::Json, false);
    let line = out
        .lines()
        .find(|l| l.contains(r#""type": "tseries""#))
        .unwrap_or_else(|| panic!("no time series in {out}"));
    let record: serde_json::Value = serde_json::from_str(line).expect("JSON");
    let points: Vec<(u64, i64)> = record["data"]["@t"]
        .as_array()
        .expect("an array of intervals")
        .iter()
        .map(|p| {
            let start = parse_utc(p["interval_start"].as_str().expect("a time"));
            (start, p["value"].as_i64().expect("a number"))
        })
        .collect();
    // One interval per firing or so (a late timer can land two in one interval).
    assert!(points.len() >= 3, "{line}");
    for pair in points.windows(2) {
        let ((t0, v0), (t1, v1)) = (pair[0], pair[1]);
        assert!(t1 > t0 && v1 > v0, "{line}");
    }
    for (start, _) in &points {
        assert_eq!(
            start % 20_000_000,
            0,
            "interval starts are multiples of 20ms: {line}"
        );
        // TAI time is wall-clock time (within the leap seconds it may be set apart by).
        assert!(start + 60_000_000_000 > before && *start < now_ns() + 60_000_000_000);
    }
    assert_eq!(points.last().map(|p| p.1), Some(6), "{line}");
}

#[test]
fn a_benchmark_runs_its_probe_many_times_between_begin_and_end() {
    let source =
        r#"begin { printf("begin\n"); } bench:count_it { @n = count(); } end { printf("end\n"); }"#;
    let out = run(source, OutputFormat::Text, true);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"begin"), "{out}");
    let header = lines
        .iter()
        .position(|l| l.starts_with("Benchmark"))
        .unwrap_or_else(|| panic!("no table in {out}"));
    assert_eq!(
        lines[header],
        format!("{:41}{:15}Iterations", "Benchmark", "Time(ns)")
    );
    let row: Vec<&str> = lines[header + 2].split_whitespace().collect();
    assert_eq!(row[0], "count_it", "{out}");
    let iterations: u64 = row[2].parse().expect("iterations");
    assert!(row[1].parse::<u64>().is_ok() && iterations >= 1, "{out}");
    assert!(lines.contains(&"end"), "{out}");
    // Every repetition ran: the count is at least the last batch's.
    let count: u64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("@n: "))
        .unwrap_or_else(|| panic!("no @n in {out}"))
        .parse()
        .expect("a count");
    assert!(count >= iterations, "{out}");
}

#[test]
fn bench_probes_alone_need_bench_mode() {
    let script = bpfhook_lang::compile("stdin", "bench:a { @n = count(); }", Settings::default())
        .expect("compiles");
    let mut output = new_output(
        OutputFormat::Text,
        Box::new(std::io::sink()),
        Box::new(std::io::sink()),
    );
    let error = runtime::run(
        &script.compiled,
        &script.analysis,
        options(false),
        output.as_mut(),
    )
    .expect_err("an error");
    assert!(error.to_string().contains("use --mode bench"), "{error}");
}
