//! `bpfhook asm`: an assembled object loads, attaches and counts; syntax errors point at the line.

use bpfhook_testkit::{repo_root, TempPath};

fn bpfhook(args: &[&str]) -> (String, String, bool) {
    bpfhook_testkit::run_program(env!("CARGO_BIN_EXE_bpfhook"), args)
}

#[test]
fn assembled_example_counts_the_commands_exec() {
    let dir = TempPath::dir("bpfhook-asm-");
    let object = dir.join("count_execs.o");
    let source = repo_root().join("examples/count_execs.s");
    let (_, err, ok) = bpfhook(&[
        "asm",
        source.to_str().expect("utf-8"),
        "-o",
        object.to_str().expect("utf-8"),
    ]);
    assert!(ok, "{err}");
    let (out, err, ok) = bpfhook(&["run", object.to_str().expect("utf-8"), "--", "/bin/true"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("attached tracepoint:syscalls:sys_enter_execve (prog count_execs)"),
        "{out}"
    );
    // The assembled object declares legacy maps, which carry no BTF: entries print as hex.
    assert!(out.contains("map counts (id "), "{out}");
    assert!(
        out.contains("value: 01 00 00 00 00 00 00 00"),
        "no exec counted: {out}"
    );
}

#[test]
fn syntax_errors_name_line_and_column() {
    let dir = TempPath::dir("bpfhook-asm-");
    let source = dir.join("bad.s");
    std::fs::write(
        &source,
        ".license \"GPL\"\n.section xdp prog\n    r1 = 2\n    r1 +=+ r2\n    exit\n",
    )
    .expect("write");
    let (_, err, ok) = bpfhook(&["asm", source.to_str().expect("utf-8")]);
    assert!(!ok);
    assert!(err.contains("bad.s: line 4:"), "{err}");
}
