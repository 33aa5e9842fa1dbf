//! `bpfhook prog|map|link|pin|unpin|top` against programs this test process loads through the
//! Manager (each test its own program of the `inspect_cli` fixture, found by id, so tests run
//! in parallel). Pins are removed by a guard; programs go when the Manager drops.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use aya::maps::Map;
use bpfhook::attach::AttachOptions;
use bpfhook::manager::{Manager, ManagerBuilder};
use bpfhook::object::ObjectFile;
use bpfhook_testkit::{bpf_fixture, unique_name, TempPath};
use serde_json::Value;

fn load(program: &str) -> Manager {
    let object = ObjectFile::from_path(bpf_fixture("inspect_cli")).expect("fixture parses");
    ManagerBuilder::new(&object)
        .options(AttachOptions::default())
        .select([program])
        .attach()
        .expect("attach")
}

fn prog_id(manager: &Manager, program: &str) -> u32 {
    manager.program_id(program).expect("program loaded")
}

fn map_id(manager: &Manager, map: &str) -> u32 {
    bpfhook::maps::id(manager.map(map).expect("map exists")).expect("map id")
}

struct Run {
    stdout: String,
    stderr: String,
    output: Output,
}

fn bpfhook(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_bpfhook"))
        .args(args)
        .output()
        .expect("bpfhook runs");
    Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        output,
    }
}

/// Runs a command that must succeed and returns its stdout.
fn ok(args: &[&str]) -> String {
    let run = bpfhook(args);
    assert!(
        run.output.status.success(),
        "bpfhook {args:?} failed: {}",
        run.stderr
    );
    run.stdout
}

/// Runs a command that must fail with exit code 1 and returns its stderr.
fn fails(args: &[&str]) -> String {
    let run = bpfhook(args);
    assert_eq!(
        run.output.status.code(),
        Some(1),
        "bpfhook {args:?} should fail; stdout: {}",
        run.stdout
    );
    run.stderr
}

/// One line of JSON.
fn json(args: &[&str]) -> Value {
    let out = ok(args);
    assert_eq!(out.trim_end().lines().count(), 1, "one line: {out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

fn find(list: &Value, key: &str, id: u32) -> Value {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .find(|item| item[key] == id)
        .unwrap_or_else(|| panic!("no {key} {id} in {list}"))
        .clone()
}

fn exec_true() {
    Command::new("/bin/true")
        .status()
        .expect("running /bin/true");
}

fn bpffs_path(what: &str) -> PathBuf {
    PathBuf::from(format!(
        "/sys/fs/bpf/{}",
        unique_name(&format!("bpfhook-test-{what}"))
    ))
}

#[test]
fn prog_list_json_shows_the_program() {
    let manager = load("insp_cli_list");
    let id = prog_id(&manager, "insp_cli_list");
    let program = find(&json(&["prog", "list", "--json"]), "id", id);
    assert_eq!(program["type"], "tracepoint");
    assert_eq!(program["name"], "insp_cli_list");
    for field in [
        "tag",
        "gpl_compatible",
        "loaded_at",
        "uid",
        "bytes_xlated",
        "jited",
        "bytes_jited",
        "bytes_memlock",
        "map_ids",
        "btf_id",
        "pids",
    ] {
        assert!(program.get(field).is_some(), "{field} missing in {program}");
    }
    assert!(ok(&["prog", "list"]).contains(&format!("{id}: tracepoint  name insp_cli_list")));
}

#[test]
fn prog_show_and_dump() {
    let manager = load("insp_cli_show");
    let id = prog_id(&manager, "insp_cli_show");
    let id_text = id.to_string();
    let shown = json(&["prog", "show", &id_text, "--json"]);
    assert_eq!(shown["id"], id);
    assert_eq!(shown["name"], "insp_cli_show");
    assert_eq!(shown["gpl_compatible"], true);
    assert!(shown["pids"]
        .as_array()
        .expect("pids")
        .iter()
        .any(|p| p["pid"] == std::process::id()));
    let links = shown["links"].as_array().expect("links");
    assert!(
        links.iter().any(|l| l["tp_name"] == "sys_enter_execve"),
        "{shown}"
    );
    let text = ok(&["prog", "show", &id_text]);
    assert!(
        text.contains("name insp_cli_show") && text.contains("loaded_at"),
        "{text}"
    );

    let dump = ok(&["prog", "dump", &id_text]);
    assert!(
        dump.lines()
            .next()
            .is_some_and(|l| l.trim_start().starts_with("0: ")),
        "{dump}"
    );
    assert!(dump.lines().any(|l| l.ends_with(": exit")), "{dump}");
    let dump_json = json(&["prog", "dump", &id_text, "--json"]);
    assert!(dump_json
        .as_array()
        .is_some_and(|a| a.iter().any(|i| i["text"] == "exit")));
}

#[test]
fn btf_map_update_lookup_dump_delete() {
    let manager = load("insp_cli_btfmap");
    let id = map_id(&manager, "insp_cli_typed").to_string();
    // struct insp_value { u64 count; char comm[16]; s32 delta; } = 32 bytes.
    let value = "07 00 00 00 00 00 00 00 63 61 74 00 00 00 00 00 \
                 00 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00";
    ok(&["map", "update", &id, "77", value]);
    let entry = json(&["map", "lookup", &id, "77", "--json"]);
    assert_eq!(
        entry,
        serde_json::json!({"key": 77, "value": {"count": 7, "comm": "cat", "delta": 5}})
    );
    let text = ok(&["map", "lookup", &id, "0x4d000000"]);
    assert_eq!(text, "key: 77  value: {count=7 comm=\"cat\" delta=5}\n");
    let dump = json(&["map", "dump", &id, "--json"]);
    assert!(
        dump.as_array().is_some_and(|a| a.contains(&entry)),
        "{dump}"
    );
    // Our execs land in the map too, keyed by pid (the comm is still the forking thread's
    // at sys_enter_execve).
    let mut child = Command::new("/bin/true")
        .spawn()
        .expect("running /bin/true");
    let pid = child.id();
    child.wait().expect("waiting for /bin/true");
    let dump = json(&["map", "dump", &id, "--json"]);
    assert!(
        dump.as_array().is_some_and(|a| a
            .iter()
            .any(|e| e["key"] == pid && e["value"]["count"] == 1)),
        "{dump}"
    );
    ok(&["map", "delete", &id, "77"]);
    let error = fails(&["map", "lookup", &id, "77"]);
    assert!(error.contains("key 77 is not in map"), "{error}");
    let shown = json(&["map", "show", &id, "--json"]);
    assert_eq!(shown["type"], "hash");
    assert_eq!(shown["bytes_key"], 4);
    assert_eq!(shown["bytes_value"], 32);
    assert!(shown["btf_id"].as_u64().is_some());
    assert!(json(&["map", "list", "--json"])
        .as_array()
        .is_some_and(|a| a
            .iter()
            .any(|m| m["id"] == map_id(&manager, "insp_cli_typed"))));
}

#[test]
fn map_without_btf_in_hex() {
    let manager = load("insp_cli_hexmap");
    let data = match manager.map("insp_cli_raw").expect("raw map") {
        Map::HashMap(m) => m,
        _ => panic!("raw map is a hash"),
    };
    let id = data.info().expect("info").id().to_string();
    ok(&[
        "map",
        "update",
        &id,
        "0x0102030405060708",
        "aa bb cc dd ee ff 00 11",
    ]);
    let entry = json(&["map", "lookup", &id, "01 02 03 04 05 06 07 08", "--json"]);
    assert_eq!(entry["key"][0], "0x01");
    assert_eq!(entry["value"][7], "0x11");
    let dump = ok(&["map", "dump", &id]);
    assert!(
        dump.contains("key: 01 02 03 04 05 06 07 08  value: aa bb cc dd ee ff 00 11"),
        "{dump}"
    );
    ok(&["map", "delete", &id, "0x0102030405060708"]);
    assert_eq!(ok(&["map", "dump", &id]), "");
}

#[test]
fn pin_and_unpin_prog_map_link() {
    let manager = load("insp_cli_pin");
    let prog = prog_id(&manager, "insp_cli_pin");
    let links = json(&["link", "list", "--json"]);
    let link = find(&links, "prog_id", prog)["id"].to_string();
    let map = map_id(&manager, "insp_cli_typed").to_string();
    let paths = [bpffs_path("prog"), bpffs_path("map"), bpffs_path("link")];
    let _guards: Vec<TempPath> = paths.iter().cloned().map(TempPath::claim).collect();
    let s = |p: &PathBuf| p.to_str().expect("utf-8").to_owned();
    ok(&["pin", "prog", &prog.to_string(), &s(&paths[0])]);
    ok(&["pin", "map", &map, &s(&paths[1])]);
    ok(&["pin", "link", &link, &s(&paths[2])]);
    assert!(paths.iter().all(|p| p.exists()));
    for path in &paths {
        ok(&["unpin", &s(path)]);
    }
    assert!(paths.iter().all(|p| !p.exists()));
}

#[test]
fn link_list_shows_the_tracepoint_link() {
    let manager = load("insp_cli_link");
    let prog = prog_id(&manager, "insp_cli_link");
    let link = find(&json(&["link", "list", "--json"]), "prog_id", prog);
    assert_eq!(link["type"], "perf_event");
    assert_eq!(link["tp_name"], "sys_enter_execve");
    let text = ok(&["link", "list"]);
    assert!(
        text.contains(&format!(
            "perf_event  prog {prog}\n\ttracepoint sys_enter_execve"
        )),
        "{text}"
    );
}

#[test]
fn top_once_json_sees_runs_and_turns_stats_off() {
    let manager = load("insp_cli_top");
    let id = prog_id(&manager, "insp_cli_top");
    let sysctl_before = std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled").ok();
    let top = Command::new(env!("CARGO_BIN_EXE_bpfhook"))
        .args(["top", "--once", "--json", "--interval", "1.5"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("top runs");
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..5 {
        exec_true();
    }
    let output = top.wait_with_output().expect("top finishes");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(text.trim_end().lines().count(), 1, "{text}");
    let rows: Value = serde_json::from_str(&text).expect("JSON");
    let row = find(&rows, "id", id);
    assert_eq!(row["name"], "insp_cli_top");
    assert!(
        row["period_run_cnt"].as_u64().is_some_and(|n| n >= 5),
        "{row}"
    );
    assert!(row["run_cnt"].as_u64().is_some_and(|n| n >= 5), "{row}");
    for field in [
        "runs_per_sec",
        "period_avg_ns",
        "total_avg_ns",
        "cpu_percent",
    ] {
        assert!(row[field].as_f64().is_some(), "{field} in {row}");
    }

    // Stats are off again: the sysctl is as it was, and runs no longer count.
    let sysctl_after = std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled").ok();
    assert_eq!(sysctl_before, sysctl_after);
    if sysctl_before.as_deref().map(str::trim) == Some("0") {
        let count = || bpfhook::inspect::program(id).expect("program").run_cnt;
        let before = count();
        exec_true();
        assert_eq!(count(), before, "run counts must stop once top exits");
    }
}

#[test]
fn bad_inputs_exit_1_with_clear_messages() {
    let none = (u32::MAX - 11).to_string();
    for args in [
        ["prog", "show", &none],
        ["prog", "dump", &none],
        ["map", "show", &none],
        ["map", "dump", &none],
        ["link", "show", &none],
    ] {
        let error = fails(&args);
        assert!(
            error.contains(&format!("with id {none} is loaded")),
            "{args:?}: {error}"
        );
    }
    let manager = load("insp_cli_bad");
    let map = map_id(&manager, "insp_cli_typed").to_string();
    let error = fails(&["map", "lookup", &map, "0xzz"]);
    assert!(error.contains("malformed KEY `0xzz`"), "{error}");
    let error = fails(&["map", "lookup", &map, "01 00"]);
    assert!(
        error.contains("KEY has 2 bytes, but map") && error.contains("takes 4"),
        "{error}"
    );
    let error = fails(&["map", "update", &map, "1", "01"]);
    assert!(error.contains("VALUE has 1 bytes"), "{error}");
    let outside = std::env::temp_dir().join(unique_name("bpfhook-not-bpffs"));
    let _guard = TempPath::claim(outside.clone());
    let prog = prog_id(&manager, "insp_cli_bad").to_string();
    let error = fails(&["pin", "prog", &prog, outside.to_str().expect("utf-8")]);
    assert!(error.contains("is not on a bpf filesystem"), "{error}");
    assert!(!outside.exists());
    let error = fails(&["top", "--interval", "0"]);
    assert!(error.contains("--interval"), "{error}");
}
