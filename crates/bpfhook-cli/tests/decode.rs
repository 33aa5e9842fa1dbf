//! `bpfhook run` output typed through the object's BTF: records from ring and perf buffers, the
//! maps at exit, as text and as JSON; record types only the DWARF holds; bad record types and
//! objects without BTF.

use bpfhook_testkit::{bpf_fixture, repo_root, unique_name, TempPath};
use serde_json::Value;

fn bpfhook(args: &[&str]) -> (String, String, bool) {
    bpfhook_testkit::run_program(env!("CARGO_BIN_EXE_bpfhook"), args)
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Runs an exec-event program of `fixture` with a command whose exec has a known pid: sh prints
/// its pid, then execs a marker path in place. Returns (stdout, sh's pid, the marker path).
fn exec_events(fixture: &str, program: &str, extra: &[&str]) -> (String, String, String) {
    let object = bpf_fixture(fixture);
    let marker = format!("/nonexistent/{}", unique_name("exec-"));
    let script = format!("echo SHPID=$$; exec {marker}");
    let mut args = vec![
        "run",
        object.to_str().expect("utf-8"),
        "-P",
        program,
        "--no-printk",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", &script]);
    let (out, err, ok) = bpfhook(&args);
    assert!(ok, "{err}");
    let pid = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("SHPID=")
                .or_else(|| l.split("SHPID=").nth(1))
        })
        .expect("sh printed its pid")
        .trim()
        .to_owned();
    (out, pid, marker)
}

fn typed_text_record(program: &str, map: &str) {
    let (out, pid, marker) = exec_events("events_exec", program, &[]);
    // struct event has a u64 `seq`: gaps are counted without --seq-offset.
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("records: map={map} events="))
                && l.contains(" seq_missing=")),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.contains(&format!("filename=\"{marker}\"")))
        .unwrap_or_else(|| panic!("no typed record for {marker}:\n{out}"));
    assert!(
        line.starts_with(&format!("event map={map} pid={pid} uid=0 comm=\"sh\" ")),
        "{line}"
    );
    assert!(line.contains(" seq="), "{line}");
}

fn typed_json_record(program: &str, map: &str) {
    let (out, pid, marker) = exec_events("events_exec", program, &["--json"]);
    let lines: Vec<Value> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(lines[0]["type"], "attached", "{out}");
    assert_eq!(lines[0]["program"], program);
    let record = lines
        .iter()
        .find(|v| v["type"] == "event" && v["data"]["filename"] == marker.as_str())
        .unwrap_or_else(|| panic!("no JSON record for {marker}:\n{out}"));
    assert_eq!(record["map"], map);
    assert_eq!(record["data"]["pid"].to_string(), pid);
    assert_eq!(record["data"]["uid"], 0);
    assert_eq!(record["data"]["comm"], "sh");
    assert!(record["data"]["seq"].is_u64(), "{record}");
    let summary = lines
        .iter()
        .find(|v| v["type"] == "summary" && v["map"] == map)
        .expect("summary");
    assert!(
        summary["events"].as_u64() >= Some(1) && summary["lost"].is_u64(),
        "{summary}"
    );
    assert!(
        lines
            .iter()
            .any(|v| v["type"] == "detached" && v["program"] == program),
        "{out}"
    );
}

#[test]
fn ring_buffer_records_typed_as_text() {
    typed_text_record("exec_ringbuf", "exec_ring");
}

#[test]
fn ring_buffer_records_typed_as_json() {
    typed_json_record("exec_ringbuf", "exec_ring");
}

#[test]
fn perf_buffer_records_typed_as_text() {
    typed_text_record("exec_perfbuf", "exec_perf");
}

#[test]
fn perf_buffer_records_typed_as_json() {
    typed_json_record("exec_perfbuf", "exec_perf");
}

#[test]
fn maps_at_exit_are_typed_in_text() {
    let object = bpf_fixture("decode_maps");
    let (out, err, ok) = bpfhook(&[
        "run",
        object.to_str().expect("utf-8"),
        "--",
        "sh",
        "-c",
        "/bin/true; /bin/true",
    ]);
    assert!(ok, "{err}");
    // char[16] keys as strings, u64 values in decimal.
    assert!(out.contains("  key: \"true\"  value: "), "{out}");
    // A per-CPU counter: one line per CPU, then the sum.
    let sum: u64 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("sum: "))
        .expect("per-CPU sum")
        .parse()
        .expect("a number");
    assert!(sum >= 3, "three execs at least: {out}");
    assert!(out.contains("    cpu0: "), "{out}");
    // A struct value with a char array and an enum by name.
    assert!(
        out.contains("value: {count=1 last_comm=\"true\" kind=EXEC_FIRST}"),
        "{out}"
    );
}

#[test]
fn maps_at_exit_are_typed_in_json() {
    let object = bpf_fixture("decode_maps");
    let (out, err, ok) = bpfhook(&[
        "run",
        object.to_str().expect("utf-8"),
        "--json",
        "--",
        "/bin/true",
    ]);
    assert!(ok, "{err}");
    let lines = json_lines(&out);
    let map = |name: &str| {
        lines
            .iter()
            .find(|v| v["type"] == "map" && v["name"] == name)
            .unwrap_or_else(|| panic!("no map {name}:\n{out}"))
    };
    let by_comm = map("by_comm")["entries"]
        .as_array()
        .expect("entries")
        .clone();
    assert!(
        by_comm
            .iter()
            .any(|e| e["key"] == "true" && e["value"].as_u64() >= Some(1)),
        "{by_comm:?}"
    );
    let per_cpu = &map("per_cpu_total")["entries"][0];
    assert!(
        per_cpu["values"].as_array().is_some_and(|v| !v.is_empty()),
        "{per_cpu}"
    );
    assert!(
        per_cpu["sum"].as_str().and_then(|s| s.parse::<u64>().ok()) >= Some(1),
        "{per_cpu}"
    );
    let by_pid = map("by_pid")["entries"]
        .as_array()
        .expect("entries")
        .clone();
    assert!(
        by_pid.iter().any(|e| e["value"]["last_comm"] == "true"
            && e["value"]["kind"] == "EXEC_FIRST"
            && e["value"]["count"] == 1),
        "{by_pid:?}"
    );
}

#[test]
fn unknown_event_type_is_an_error_before_attaching() {
    let object = bpf_fixture("events_exec");
    let (_, err, ok) = bpfhook(&[
        "run",
        object.to_str().expect("utf-8"),
        "--event-type",
        "nosuch",
    ]);
    assert!(!ok);
    assert!(
        err.contains("--event-type nosuch: no struct, union or typedef of that name"),
        "{err}"
    );
}

#[test]
fn records_shorter_than_the_event_type_are_marked_not_misread() {
    let (out, _, marker) = exec_events("events_exec", "exec_ringbuf", &["--event-type", "too_big"]);
    // The bytes are still shown, as hex, so nothing is lost: find the marker's record by them.
    let hex = marker
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    let line = out
        .lines()
        .find(|l| l.contains(&hex))
        .unwrap_or_else(|| panic!("no record for {marker}:\n{out}"));
    assert!(
        line.starts_with("event map=exec_ring undecodable (96 bytes, too_big is 4096) "),
        "{line}"
    );
}

#[test]
fn a_smaller_event_type_decodes_the_leading_bytes() {
    let (out, _, _) = exec_events(
        "events_exec",
        "exec_ringbuf",
        &["--event-type", "sys_enter_execve"],
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("event map=exec_ring common=")),
        "{out}"
    );
}

#[test]
fn objects_without_btf_print_records_as_hex() {
    let dir = TempPath::dir("bpfhook-nobtf-");
    let object = dir.join("plain.o");
    let source = repo_root().join("tests/bpf/ringbuf_no_btf.s");
    let (_, err, ok) = bpfhook(&[
        "asm",
        source.to_str().expect("utf-8"),
        "-o",
        object.to_str().expect("utf-8"),
    ]);
    assert!(ok, "{err}");
    let (out, err, ok) = bpfhook(&["run", object.to_str().expect("utf-8"), "--", "/bin/true"]);
    let (_, type_err, type_ok) = bpfhook(&[
        "run",
        object.to_str().expect("utf-8"),
        "--event-type",
        "event",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("event map=plain_ring len=8 11 12 13 14 15 16 17 18"),
        "{out}"
    );
    assert!(
        !type_ok && type_err.contains("the object has no BTF"),
        "{type_err}"
    );
}

#[test]
fn records_typed_from_dwarf_when_btf_lacks_the_type_as_text() {
    // dwarf_event's `struct event` is used only through the reserved pointer: not in its .BTF.
    let (out, pid, marker) = exec_events("dwarf_event", "dwarf_exec", &[]);
    assert!(
        out.lines()
            .any(|l| l == "records typed as struct event (136 bytes, from DWARF)"),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.contains(&format!("filename=\"{marker}\"")))
        .unwrap_or_else(|| panic!("no typed record for {marker}:\n{out}"));
    assert!(
        line.starts_with(&format!(
            "event map=dwarf_ring pid={pid} kind=DWARF_EVENT_EXEC comm=\"sh\" "
        )),
        "{line}"
    );
    // Bit fields, a signed short, nested arrays, an anonymous union, a struct and a pointer.
    assert!(
        line.contains(
            " flags=5 level=17 delta=-2 seq=",
        ) && line.ends_with(
            " grid=[[0 1 2] [3 4 5]] {word=16909060 halves=[772 258]} pair={lo=-1 hi=200} text=0x0"
        ),
        "{line}"
    );
    // The u64 `seq` counts gaps, as with a BTF type.
    assert!(
        out.lines()
            .any(|l| l.starts_with("records: map=dwarf_ring ") && l.contains(" seq_missing=")),
        "{out}"
    );
}

#[test]
fn records_typed_from_dwarf_when_btf_lacks_the_type_as_json() {
    // Named explicitly this time: --event-type falls back to DWARF as the default does.
    let (out, pid, marker) = exec_events(
        "dwarf_event",
        "dwarf_exec",
        &["--json", "--event-type", "event"],
    );
    let lines: Vec<Value> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let typed = lines
        .iter()
        .find(|v| v["type"] == "record_type")
        .unwrap_or_else(|| panic!("no record_type line:\n{out}"));
    assert_eq!(typed["name"], "struct event", "{typed}");
    assert_eq!(typed["source"], "DWARF", "{typed}");
    assert_eq!(typed["size"], 136, "{typed}");
    let record = lines
        .iter()
        .find(|v| v["type"] == "event" && v["data"]["filename"] == marker.as_str())
        .unwrap_or_else(|| panic!("no JSON record for {marker}:\n{out}"));
    let data = &record["data"];
    assert_eq!(data["pid"].to_string(), pid);
    assert_eq!(data["kind"], "DWARF_EVENT_EXEC");
    assert_eq!(data["comm"], "sh");
    assert_eq!(
        (data["flags"].as_u64(), data["level"].as_u64()),
        (Some(5), Some(17))
    );
    assert_eq!(data["delta"], -2);
    assert_eq!(data["grid"], serde_json::json!([[0, 1, 2], [3, 4, 5]]));
    assert_eq!(data["pair"], serde_json::json!({"lo": -1, "hi": 200}));
}

#[test]
fn records_typed_from_btf_say_so() {
    let (out, _, _) = exec_events("events_exec", "exec_ringbuf", &[]);
    assert!(
        out.lines()
            .any(|l| l == "records typed as struct event (96 bytes, from BTF)"),
        "{out}"
    );
}

#[test]
fn records_without_a_type_name_are_typed_by_the_reserved_size() {
    let object = bpf_fixture("dwarf_sized");
    let (out, err, ok) = bpfhook(&[
        "run",
        object.to_str().expect("utf-8"),
        "--no-printk",
        "--",
        "/bin/true",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.lines().any(|l| l
            == "records typed as struct exec_note (24 bytes, from DWARF, the only struct of the \
                size the programs send)"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("event map=note_ring pid=") && l.contains(" marker=65261 ")),
        "{out}"
    );
}
