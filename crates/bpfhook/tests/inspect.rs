//! Inspecting by kernel id on the real kernel: each test loads its own program of the
//! `inspect_lib` fixture through the Manager and finds it, its maps and its link by id, so
//! tests run in parallel. Pins are removed by a guard; programs go when the Manager drops.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aya::maps::Map;
use bpfhook::attach::AttachOptions;
use bpfhook::decode::Value;
use bpfhook::inspect::maps::OpenMap;
use bpfhook::inspect::{self, links, pins, progs, stats, InspectError};
use bpfhook::manager::{Manager, ManagerBuilder};
use bpfhook::object::ObjectFile;
use bpfhook::sys::ObjectKind;
use bpfhook_testkit::{bpf_fixture, unique_name, TempPath};

fn load(program: &str) -> Manager {
    let object = ObjectFile::from_path(bpf_fixture("inspect_lib")).expect("fixture parses");
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

fn exec_true() {
    Command::new("/bin/true")
        .status()
        .expect("running /bin/true");
}

#[test]
fn program_show_reports_bpftool_fields() {
    let manager = load("insp_lib_show");
    let id = prog_id(&manager, "insp_lib_show");
    let p = progs::program(id).expect("program by id");
    assert_eq!(p.id, id);
    assert_eq!(p.prog_type, "tracepoint");
    assert_eq!(p.name, "insp_lib_show");
    assert_eq!(p.tag.len(), 16);
    assert!(p.gpl_compatible);
    assert!(p.jited && p.bytes_jited > 0 && p.bytes_xlated > 0);
    assert!(p.bytes_memlock > 0);
    assert!(p.btf_id.is_some(), "the fixture has BTF");
    assert!(p.map_ids.contains(&map_id(&manager, "insp_lib_typed")));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(
        p.loaded_at <= now + 1 && p.loaded_at + 120 >= now,
        "loaded_at {} vs now {now}",
        p.loaded_at
    );
    // This test process holds the program's fd through aya.
    assert!(
        p.pids.iter().any(|h| h.pid == std::process::id()),
        "pids: {:?}",
        p.pids
    );
    assert!(
        p.links
            .iter()
            .any(|l| l.target.contains("sys_enter_execve")),
        "links: {:?}",
        p.links
    );
}

#[test]
fn list_contains_the_program() {
    let manager = load("insp_lib_list");
    let id = prog_id(&manager, "insp_lib_list");
    let all = inspect::list_programs().expect("list");
    let p = all.iter().find(|p| p.id == id).expect("listed");
    assert_eq!(p.name, "insp_lib_list");
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "id order");
}

#[test]
fn dump_disassembles_translated_instructions() {
    let manager = load("insp_lib_dump");
    let insns = progs::dump_program(prog_id(&manager, "insp_lib_dump")).expect("dump");
    assert!(insns.iter().any(|i| i.text == "exit"), "{insns:?}");
    assert!(
        insns.iter().all(|i| !i.text.starts_with(".insn")),
        "{insns:?}"
    );
    assert_eq!(insns[0].index, 0);
    // Helper calls are named through kallsyms, as bpftool names them.
    assert!(
        insns
            .iter()
            .any(|i| i.text.starts_with("call bpf_get_current_comm#")),
        "{insns:?}"
    );
    assert!(
        insns.iter().all(|i| !i.text.contains("unknown#")),
        "{insns:?}"
    );
}

#[test]
fn btf_typed_map_round_trip() {
    let manager = load("insp_lib_btfmap");
    let map = OpenMap::open(map_id(&manager, "insp_lib_typed")).expect("open map");
    assert!(map.has_btf());
    // struct insp_value { u64 count; char comm[16]; s32 delta; } = 32 bytes with padding.
    let value = "0x2a00000000000000 \
                 6c 73 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
                 fe ff ff ff 00 00 00 00";
    assert!(matches!(
        map.update("4000000000", value),
        Err(InspectError::BadBytes { .. })
    ));
    let value = value.replace("0x2a00000000000000", "2a 00 00 00 00 00 00 00");
    map.update("4000000000", &value)
        .expect("decimal key, hex value");
    let entry = map.lookup("4000000000").expect("lookup");
    assert_eq!(entry.key, Value::Unsigned(4_000_000_000));
    assert_eq!(
        entry.value.as_ref().map(ToString::to_string).as_deref(),
        Some(r#"{count=42 comm="ls" delta=-2}"#)
    );
    let json = serde_json::to_string(&entry).expect("json");
    assert_eq!(
        json,
        r#"{"key":4000000000,"value":{"count":42,"comm":"ls","delta":-2}}"#
    );
    // The same key in hex bytes.
    let dump = map.dump().expect("dump");
    assert!(dump.entries.contains(&entry));
    map.delete("00 28 6b ee").expect("delete by hex key");
    assert!(matches!(
        map.lookup("4000000000"),
        Err(InspectError::NoSuchKey { .. })
    ));
    assert!(matches!(
        map.delete("4000000000"),
        Err(InspectError::NoSuchKey { .. })
    ));
}

#[test]
fn map_without_btf_is_hex() {
    let manager = load("insp_lib_hexmap");
    let id = {
        let data = match manager.map("insp_lib_raw").expect("raw map") {
            Map::HashMap(m) => m,
            _ => panic!("raw map is a hash"),
        };
        data.info().expect("info").id()
    };
    let map = OpenMap::open(id).expect("open");
    assert!(!map.has_btf());
    map.update("01 02 03 04 05 06 07 08", "0x1122334455667788")
        .expect("update");
    let entry = map.lookup("0x0102030405060708").expect("lookup");
    assert_eq!(
        entry.to_owned().key,
        Value::Hex(vec![1, 2, 3, 4, 5, 6, 7, 8])
    );
    assert_eq!(
        entry.value.map(|v| v.to_string()).as_deref(),
        Some("11 22 33 44 55 66 77 88")
    );
    // Without BTF a bare number is a hex byte, so it is the wrong size.
    assert!(matches!(
        map.lookup("5"),
        Err(InspectError::WrongSize {
            got: 1,
            expected: 8,
            ..
        })
    ));
    assert!(matches!(
        map.lookup("zz 00"),
        Err(InspectError::BadBytes { .. })
    ));
    map.delete("01 02 03 04 05 06 07 08").expect("delete");
}

#[test]
fn per_cpu_values_per_cpu() {
    let manager = load("insp_lib_percpu");
    let map = OpenMap::open(map_id(&manager, "insp_lib_pcpu")).expect("open");
    map.update("1", "42").expect("update");
    let entry = map.lookup("1").expect("lookup");
    let values = entry.values.expect("per-CPU values");
    let cpus = aya::util::nr_cpus().expect("cpus");
    assert_eq!(values.len(), cpus);
    assert!(values.iter().all(|v| v.value == Value::Unsigned(42)));
    // An array has every key; dump shows all four.
    assert_eq!(map.dump().expect("dump").entries.len(), 4);
}

#[test]
fn pin_and_unpin_program_and_map() {
    let manager = load("insp_lib_pin");
    let prog_path = PathBuf::from(format!("/sys/fs/bpf/{}", unique_name("bpfhook-test-prog")));
    let map_path = PathBuf::from(format!("/sys/fs/bpf/{}", unique_name("bpfhook-test-map")));
    let _guards = (
        TempPath::claim(prog_path.clone()),
        TempPath::claim(map_path.clone()),
    );
    let id = prog_id(&manager, "insp_lib_pin");
    pins::pin(ObjectKind::Program, id, &prog_path).expect("pin prog");
    pins::pin(
        ObjectKind::Map,
        map_id(&manager, "insp_lib_typed"),
        &map_path,
    )
    .expect("pin map");
    let pinned = aya::programs::ProgramInfo::from_pin(&prog_path).expect("open pin");
    assert_eq!(pinned.id(), id);
    assert!(map_path.exists());
    pins::unpin(&prog_path).expect("unpin prog");
    pins::unpin(&map_path).expect("unpin map");
    assert!(!prog_path.exists() && !map_path.exists());
}

#[test]
fn link_list_shows_the_tracepoint_link() {
    let manager = load("insp_lib_link");
    let id = prog_id(&manager, "insp_lib_link");
    let all = links::list_links().expect("links");
    let link = all.iter().find(|l| l.prog_id == id).expect("our link");
    assert_eq!(link.link_type, "perf_event");
    assert_eq!(link.event_type, Some("tracepoint"));
    assert_eq!(link.tp_name.as_deref(), Some("sys_enter_execve"));
    assert_eq!(links::link(link.id).expect("by id").prog_id, id);
}

#[test]
fn run_time_stats_count_runs_while_enabled() {
    let manager = load("insp_lib_stats");
    let id = prog_id(&manager, "insp_lib_stats");
    let guard = stats::StatsGuard::enable().expect("enable stats");
    let before = stats::sample().expect("sample");
    let start = Instant::now();
    exec_true();
    exec_true();
    let now = stats::sample().expect("sample");
    let rows = stats::rows(&before, &now, start.elapsed(), stats::online_cpus());
    let row = rows.iter().find(|r| r.id == id).expect("our program");
    assert!(row.period_run_cnt >= 2, "{row:?}");
    assert!(
        row.period_run_time_ns > 0 && row.cpu_percent > 0.0,
        "{row:?}"
    );
    drop(guard);
}

#[test]
fn bad_inputs_are_clear_errors() {
    const NONE: u32 = u32::MAX - 7;
    for (kind, result) in [
        (ObjectKind::Program, progs::program(NONE).map(|_| ())),
        (ObjectKind::Map, OpenMap::open(NONE).map(|_| ())),
        (ObjectKind::Link, links::link(NONE).map(|_| ())),
    ] {
        match result {
            Err(e @ InspectError::NotFound { .. }) => {
                assert!(e.to_string().contains(&NONE.to_string()), "{e}");
            }
            other => panic!("{kind:?}: expected NotFound, got {:?}", other.err()),
        }
    }
    assert!(matches!(
        progs::dump_program(NONE),
        Err(InspectError::NotFound { .. })
    ));

    let manager = load("insp_lib_list");
    let map = OpenMap::open(map_id(&manager, "insp_lib_typed")).expect("open");
    let e = map.lookup("0xabc").expect_err("odd hex");
    assert!(e.to_string().contains("malformed KEY"), "{e}");
    let e = map.lookup("01 00").expect_err("short key");
    assert!(e.to_string().contains("has 2 bytes"), "{e}");

    let outside = std::env::temp_dir().join(unique_name("bpfhook-not-bpffs"));
    let _guard = TempPath::claim(outside.clone());
    let id = prog_id(&manager, "insp_lib_list");
    assert!(matches!(
        pins::pin(ObjectKind::Program, id, &outside),
        Err(InspectError::NotBpffs(_))
    ));
    std::fs::write(&outside, "not a pin").expect("ordinary file");
    assert!(matches!(
        pins::unpin(&outside),
        Err(InspectError::NotBpffs(_))
    ));
    assert!(outside.exists(), "unpin must not remove ordinary files");
}

fn attach_fixture(fixture: &str, program: &str, options: AttachOptions) -> Manager {
    let object = ObjectFile::from_path(bpf_fixture(fixture)).expect("fixture parses");
    ManagerBuilder::new(&object)
        .options(options)
        .select([program])
        .attach()
        .expect("attach")
}

#[test]
fn xdp_link_names_its_interface() {
    let veth = bpfhook_testkit::VethPair::new();
    let options = AttachOptions {
        iface: Some(veth.host.clone()),
        ..AttachOptions::default()
    };
    let manager = attach_fixture("net", "xdp_udp", options);
    let id = prog_id(&manager, "xdp_udp");
    let all = links::list_links().expect("links");
    let link = all.iter().find(|l| l.prog_id == id).expect("our xdp link");
    assert_eq!(link.link_type, "xdp");
    assert_eq!(link.devname.as_deref(), Some(veth.host.as_str()));
    assert!(link.target.contains(&veth.host), "{}", link.target);
}

#[test]
fn cgroup_link_names_its_cgroup() {
    let cgroup = bpfhook_testkit::TempCgroup::new();
    let options = AttachOptions {
        cgroup: Some(cgroup.path.clone()),
        ..AttachOptions::default()
    };
    let manager = attach_fixture("cgroup", "cgskb_in", options);
    let id = prog_id(&manager, "cgskb_in");
    let all = links::list_links().expect("links");
    let link = all
        .iter()
        .find(|l| l.prog_id == id)
        .expect("our cgroup link");
    assert_eq!(link.link_type, "cgroup");
    assert_eq!(link.attach_type.as_deref(), Some("cgroup_inet_ingress"));
    let name = cgroup
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name");
    assert!(
        link.cgroup_path
            .as_deref()
            .is_some_and(|p| p.ends_with(name)),
        "{link:?}"
    );
}
