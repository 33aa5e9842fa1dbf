//! `bpfhook load --pin`, `unload` and `list-pins` on the real kernel: programs keep counting
//! after bpfhook exits, `map dump` reads the pinned maps, and `unload` leaves nothing. Every pin
//! directory is unique and removed by its guard even when a test fails.

use std::path::Path;
use std::process::Command;

use bpfhook_testkit::{
    bpf_fixture, program_loaded, run_program, spawn_fresh_executable, unique_name, TempCgroup,
    TempPath, VethPair,
};

const BPFHOOK: &str = env!("CARGO_BIN_EXE_bpfhook");

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A pin directory on bpffs that does not exist yet; dropping it removes whatever is pinned
/// under it, which detaches the programs.
fn pin_dir() -> TempPath {
    TempPath::claim(Path::new("/sys/fs/bpf").join(unique_name("bhpin")))
}

/// Runs `bpfhook load … --pin DIR --json` and returns the manifest it printed.
fn load(dir: &TempPath, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["load", "--pin", dir.as_str(), "--json"];
    all.extend_from_slice(args);
    let (out, err, ok) = run_program(BPFHOOK, &all);
    assert!(ok, "load {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("manifest {out:?}: {e}"))
}

/// The kernel id of the pin of this kind and name in a manifest.
fn pinned_id(manifest: &serde_json::Value, kind: &str, name: &str) -> String {
    manifest["pins"]
        .as_array()
        .and_then(|pins| pins.iter().find(|p| p["kind"] == kind && p["name"] == name))
        .and_then(|p| p["id"].as_u64())
        .unwrap_or_else(|| panic!("no {kind} {name} in {manifest}"))
        .to_string()
}

fn map_dump(manifest: &serde_json::Value, map: &str) -> String {
    let (out, err, ok) = run_program(BPFHOOK, &["map", "dump", &pinned_id(manifest, "map", map)]);
    assert!(ok, "map dump: {err}");
    out
}

/// Unloads `dir` and checks nothing of it is left: no pins, no programs, no listing.
fn unload_and_check_gone(dir: &TempPath, programs: &[&str]) {
    let (out, err, ok) = run_program(BPFHOOK, &["unload", dir.as_str()]);
    assert!(ok, "unload: {err}");
    assert!(
        out.starts_with(&format!("unloaded {}: removed ", dir.as_str())),
        "{out}"
    );
    assert!(!dir.path().exists(), "{} is still there", dir.as_str());
    for program in programs {
        assert!(!program_loaded(program), "{program} still loaded");
    }
    let (listing, err, ok) = run_program(BPFHOOK, &["list-pins"]);
    assert!(ok, "list-pins: {err}");
    assert!(!listing.contains(dir.as_str()), "{listing}");
}

/// Loading fails with `expected` in the error, and leaves no directory and no program.
fn assert_refused(args: &[&str], expected: &str, programs: &[&str]) {
    let dir = pin_dir();
    let mut all = vec!["load", "--pin", dir.as_str()];
    all.extend_from_slice(args);
    let (_, err, ok) = run_program(BPFHOOK, &all);
    assert!(!ok, "load {args:?} succeeded");
    assert!(err.contains(expected), "{err}");
    assert!(!dir.path().exists(), "{} was left behind", dir.as_str());
    for program in programs {
        assert!(!program_loaded(program), "{program} still loaded");
    }
}

#[test]
fn tracepoint_counts_execs_after_bpfhook_exits() {
    let dir = pin_dir();
    let object = bpf_fixture("pinned");
    let manifest = load(&dir, &[path(&object), "-P", "count_exec"]);
    assert_eq!(manifest["dir"], dir.as_str());

    let (programs, _, _) = run_program(BPFHOOK, &["prog", "list"]);
    let prog_id = pinned_id(&manifest, "prog", "count_exec");
    assert!(
        programs.contains(&format!("{prog_id}: tracepoint  name count_exec")),
        "{programs}"
    );
    let (listing, _, _) = run_program(BPFHOOK, &["list-pins", dir.as_str()]);
    let owner = format!("(bpfhook load --pin {})", dir.as_str());
    for pin in [
        "links/count_exec",
        "progs/count_exec",
        "maps/execs",
        "manifest",
    ] {
        assert!(
            listing
                .lines()
                .any(|l| l.starts_with(&format!("{}/{pin}  ", dir.as_str())) && l.ends_with(&owner)),
            "{pin} not listed as ours:\n{listing}"
        );
    }

    let (json, _, _) = run_program(BPFHOOK, &["list-pins", dir.as_str(), "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&json).expect("list-pins JSON");
    let link = format!("{}/links/count_exec", dir.as_str());
    assert!(
        listed.as_array().is_some_and(|pins| pins
            .iter()
            .any(|p| p["path"] == link && p["kind"] == "link" && p["loaded_into"] == dir.as_str())),
        "{json}"
    );

    // A marker binary whose name no other process has: its execs are the ones counted.
    let scratch = TempPath::dir("bhpin");
    let name = unique_name("pinmk");
    let marker = scratch.join(&name);
    std::fs::copy("/bin/true", &marker).expect("copying the marker");
    for _ in 0..3 {
        assert!(spawn_fresh_executable(&mut Command::new(&marker))
            .wait()
            .expect("marker runs")
            .success());
    }
    let dump = map_dump(&manifest, "execs");
    assert!(
        dump.contains(&format!("key: {{name=\"{name}\"}}  value: 3")),
        "{name} not counted 3 times:\n{dump}"
    );

    unload_and_check_gone(&dir, &["count_exec"]);
}

#[test]
fn xdp_on_a_veth_counts_packets_after_bpfhook_exits() {
    let veth = VethPair::new();
    let dir = pin_dir();
    let object = bpf_fixture("net");
    let manifest = load(
        &dir,
        &[path(&object), "-P", "xdp_udp", "--iface", &veth.host],
    );
    veth.udp_to_host(9, 4);
    // Key 1 counts XDP; other traffic on the pair is not UDP.
    let dump = map_dump(&manifest, "counts");
    assert!(dump.contains("key: 1  value: 4"), "{dump}");
    let link = run_program("ip", &["link", "show", &veth.host]).0;
    assert!(link.contains("xdp"), "{link}");

    unload_and_check_gone(&dir, &["xdp_udp"]);
    let link = run_program("ip", &["link", "show", &veth.host]).0;
    assert!(!link.contains("xdp"), "XDP still attached: {link}");
}

#[test]
fn cgroup_skb_counts_a_members_packets_after_bpfhook_exits() {
    let cgroup = TempCgroup::new();
    let dir = pin_dir();
    let object = bpf_fixture("cgroup");
    let manifest = load(
        &dir,
        &[
            path(&object),
            "-P",
            "cgskb_out",
            "--cgroup",
            path(&cgroup.path),
        ],
    );
    let status = cgroup
        .spawn(Command::new("bash").args(["-c", "echo x > /dev/udp/127.0.0.1/9"]))
        .wait()
        .expect("member runs");
    assert!(status.success());
    // Key 3 counts egress packets of the cgroup's members.
    let dump = map_dump(&manifest, "counts");
    assert!(dump.contains("key: 3  value: "), "{dump}");

    unload_and_check_gone(&dir, &["cgskb_out"]);
}

#[test]
fn attachments_that_are_not_links_are_refused_before_anything_is_pinned() {
    let socket = bpf_fixture("socket");
    assert_refused(
        &[path(&socket), "--iface", "lo"],
        "program `sock_count` (socket:lo) cannot outlive bpfhook: a socket filter is an option",
        &["sock_count"],
    );
    let veth = VethPair::new();
    let net = bpf_fixture("net");
    assert_refused(
        &[
            path(&net),
            "-P",
            "tc_in_udp",
            "--iface",
            &veth.host,
            "--tc-mode",
            "netlink",
        ],
        "use --tc-mode tcx",
        &["tc_in_udp"],
    );
}

#[test]
fn a_failure_midway_leaves_nothing_pinned() {
    // The second program fails the verifier after the first attached.
    assert_refused(
        &[path(&bpf_fixture("bad_verifier"))],
        "the verifier rejected the program",
        &["good_first"],
    );
    // The maps are pinned, then a program's pin fails (its name is too long for bpffs).
    assert_refused(
        &[path(&bpf_fixture("pinned"))],
        "File name too long",
        &["count_exec", "long_name_for_"],
    );
}

#[test]
fn unload_removes_the_rest_of_a_partly_removed_directory_and_says_what_was_missing() {
    let dir = pin_dir();
    let object = bpf_fixture("pinned");
    load(&dir, &[path(&object), "-P", "count_exec"]);
    std::fs::remove_file(dir.join("maps/execs")).expect("removing one pin");
    let (out, err, ok) = run_program(BPFHOOK, &["unload", dir.as_str()]);
    assert!(ok, "{err}");
    assert!(out.contains("removed 2 pins"), "{out}");
    assert!(out.contains("already gone: maps/execs"), "{out}");
    assert!(!dir.path().exists());
    assert!(!program_loaded("count_exec"));
}

#[test]
fn unload_refuses_directories_it_did_not_make() {
    let foreign = pin_dir();
    std::fs::create_dir(foreign.path()).expect("mkdir on bpffs");
    let (_, err, ok) = run_program(BPFHOOK, &["unload", foreign.as_str()]);
    assert!(!ok);
    assert!(err.contains("holds no bpfhook manifest"), "{err}");
    assert!(foreign.path().exists(), "a foreign directory was removed");

    let missing = pin_dir();
    let (_, err, ok) = run_program(BPFHOOK, &["unload", missing.as_str()]);
    assert!(!ok);
    assert!(err.contains("No such file or directory"), "{err}");

    let (_, err, ok) = run_program(BPFHOOK, &["unload", "/tmp"]);
    assert!(!ok);
    assert!(err.contains("is not on a bpf filesystem"), "{err}");
}
