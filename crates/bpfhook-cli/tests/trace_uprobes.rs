//! `bpfhook trace` on uprobes as bpftrace places them: the checks of where a probe goes, the
//! order probes on one function run in, probes on bare code. Real uprobes on real processes.

mod trace_support;

use bpfhook::discover::ElfBinary;
use bpfhook_testkit::{shell_script, test_binary, test_binary_with, TempPath};
use trace_support::trace;

/// `echo go | BINARY ARGS` in a shell: the target waits for the line, so it runs once
/// attached. The script file lives as long as the returned guard.
fn fed(binary: &std::path::Path, args: &str) -> (TempPath, String) {
    shell_script(&format!("echo go | {} {args}", binary.display()))
}

#[test]
fn probes_on_one_function_run_in_script_order() {
    let target = test_binary("uprobe_target");
    for kind in ["uprobe", "uretprobe"] {
        let script = format!(
            r#"{kind}:{0}:bpfhook_target_fn /curtask->real_parent->tgid == cpid/ {{ printf("first"); }} {kind}:{0}:bpfhook_target_fn /curtask->real_parent->tgid == cpid/ {{ printf(" second\n"); exit(); }}"#,
            target.display()
        );
        let (_file, command) = fed(&target, "1");
        let (out, err, output) = trace(&["-c", &command, "-e", &script]);
        assert!(output.status.success(), "{kind}: {err}");
        // (The target prints its sum on the same stdout.)
        assert!(out.lines().any(|l| l == "first second"), "{kind}: {out}");
    }
}

#[test]
fn places_outside_a_function_or_of_unknown_size_are_refused_as_bpftrace_words_it() {
    let target = test_binary("uprobe_target");
    let size = ElfBinary::open(target.to_str().expect("utf-8"))
        .and_then(|elf| elf.functions())
        .expect("functions")
        .into_iter()
        .find(|f| f.name == "bpfhook_target_fn")
        .expect("bpfhook_target_fn")
        .size;
    let path = target.display();
    let cases = [
        (
            format!("uprobe:{path}:bpfhook_target_fn+{size}"),
            format!("ERROR: Offset outside the function bounds ('bpfhook_target_fn' size is {size})"),
        ),
        (
            format!("uprobe:{path}:0x1"),
            format!("ERROR: Could not resolve address: {path}:0x1"),
        ),
        (
            format!("uprobe:{path}:_init"),
            "ERROR: Could not determine boundary for _init (symbol has size 0).\nUse --unsafe to force attachment."
                .to_owned(),
        ),
    ];
    for (probe, expected) in cases {
        let (_, err, output) = trace(&["-e", &format!("{probe} {{ exit(); }}")]);
        assert_eq!(output.status.code(), Some(1), "{probe}: {err}");
        assert!(err.contains(&expected), "{probe}: {err}");
    }
    // --unsafe attaches at the size-0 symbol (the process calls _init at start).
    let script = format!(r#"uprobe:{path}:_init {{ printf("init\n"); exit(); }}"#);
    let (_file, command) = fed(&target, "1");
    let (out, err, output) = trace(&["--unsafe", "-c", &command, "-e", &script]);
    assert!(output.status.success(), "{err}");
    assert!(out.lines().any(|l| l == "init"), "{out}");
}

#[test]
fn a_uprobe_on_bare_code_goes_at_the_file_offset_with_unsafe() {
    // The code of bpfhook_target_fn (position independent) copied into a file of its own.
    let target = test_binary("uprobe_target");
    let data = std::fs::read(&target).expect("reading the target");
    let function = ElfBinary::open(target.to_str().expect("utf-8"))
        .and_then(|elf| elf.functions())
        .expect("functions")
        .into_iter()
        .find(|f| f.name == "bpfhook_target_fn")
        .expect("bpfhook_target_fn");
    let start = function.file_offset.expect("in a segment") as usize;
    let dir = TempPath::dir("bpfhook-flat");
    let flat = dir.join("code.bin");
    std::fs::write(&flat, &data[start..start + function.size as usize]).expect("writing");
    let runner = test_binary_with("flat_exec", &[]);
    let script = format!(
        r#"uprobe:{}:0x0 {{ printf("arg %d\n", arg0); exit(); }}"#,
        flat.display()
    );
    let (_file, command) = shell_script(&format!(
        "echo go | {} {}",
        runner.display(),
        flat.display()
    ));
    let (out, err, output) = trace(&["--unsafe", "-c", &command, "-e", &script]);
    assert!(output.status.success(), "{err}");
    assert!(out.lines().any(|l| l == "arg 21"), "{out}");
    // Without --unsafe the place cannot be checked: refused.
    let (_, err, output) = trace(&["-e", &script]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        err.contains(&format!(
            "Could not resolve address: {}:0x0",
            flat.display()
        )),
        "{err}"
    );
}

#[test]
fn uaddr_in_a_position_independent_binary_follows_each_process_base() {
    // Built -pie: every run maps it elsewhere; the address comes from where the probe fired.
    let binary = test_binary_with("globals_target", &["-fpie", "-pie"]);
    for kind in ["uprobe", "uretprobe"] {
        let script = format!(
            r#"{kind}:{}:bpfhook_globals_fn {{ printf("0x%x 0x%lx\n", *uaddr("bpfhook_global_int"), *uaddr("bpfhook_global_long")); exit(); }}"#,
            binary.display()
        );
        let (_file, command) = fed(&binary, "");
        let (out, err, output) = trace(&["-c", &command, "-e", &script]);
        assert!(output.status.success(), "{kind}: {err}");
        assert!(
            out.lines().any(|l| l == "0x55555555 0x1122334455667788"),
            "{kind}: {out}"
        );
    }
}

#[test]
fn user_stacks_count_their_frames_and_print_build_ids() {
    let target = test_binary("uprobe_target");
    let script = format!(
        r#"uprobe:{}:bpfhook_target_fn /curtask->real_parent->tgid == cpid/ {{ $two = ustack(2); @two = len($two); @all = len(ustack); print(ustack(build_id, 2)); exit(); }}"#,
        target.display()
    );
    // The target stays until its stdin ends, so its mappings are there when the record is read.
    let (_file, lingering) = shell_script(&format!(
        "(echo go; sleep 2) | {} 1 linger",
        target.display()
    ));
    let (out, err, output) = trace(&["-c", &lingering, "-e", &script]);
    assert!(output.status.success(), "{err}");
    assert!(out.lines().any(|l| l == "@two: 2"), "{out}");
    // The function, main, libc's start and _start at least.
    let all: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("@all: "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no @all in {out}"));
    assert!(all >= 3, "{out}");
    // Both frames are in the target: its build id (as readelf tells it), offsets in the file.
    let notes = std::process::Command::new("readelf")
        .arg("-n")
        .arg(&target)
        .output()
        .expect("running readelf");
    let notes = String::from_utf8_lossy(&notes.stdout);
    let build_id = notes
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: "))
        .expect("the target has a build id");
    let size = std::fs::metadata(&target).expect("target").len();
    let frames: Vec<&str> = out.lines().filter(|l| l.starts_with(build_id)).collect();
    assert_eq!(frames.len(), 2, "{out}");
    for frame in frames {
        let offset = frame.split(" 0x").nth(1).expect("offset");
        let offset = u64::from_str_radix(offset, 16).expect("hex offset");
        assert!(offset > 0 && offset < size, "{frame}");
    }
}

#[test]
fn listing_with_a_pid_names_the_functions_of_every_file_it_maps() {
    let target = test_binary("uprobe_target");
    // It waits on its stdin: alive while the listing reads its mappings.
    let mut child = std::process::Command::new(&target)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawning the target");
    let pid = child.id().to_string();
    let (out, err, output) = trace(&[
        "-l",
        "-e",
        "uretprobe:*:bpfhook_target_* { exit(); }",
        "--pid",
        &pid,
    ]);
    let listed_libc = trace(&["-l", "-e", "uprobe:*:malloc {}", "--pid", &pid]).0;
    drop(child.stdin.take());
    child.wait().expect("the target ends at end of input");
    assert!(output.status.success(), "{err}");
    let expected = format!(
        "uretprobe:{}:bpfhook_target_fn",
        std::fs::canonicalize(&target).expect("target").display()
    );
    assert!(
        out.lines().any(|l| l == expected),
        "{expected} not in:\n{out}"
    );
    assert!(
        listed_libc
            .lines()
            .any(|l| l.starts_with("uprobe:") && l.contains("libc") && l.ends_with(":malloc")),
        "{listed_libc}"
    );
}

#[test]
fn libraries_are_found_by_name_and_soname() {
    // sleep(1) sleeps through libc's clock_nanosleep: the library named as a word or by its
    // soname, found through the linker's cache.
    for library in ["libc", "libc.so.6"] {
        let script = format!(
            r#"uprobe:{library}:clock_nanosleep /pid == cpid/ {{ printf("slept %d\n", arg0); exit(); }}"#
        );
        let (out, err, output) = trace(&["-c", "/bin/sleep 0.1", "-e", &script]);
        assert!(output.status.success(), "{library}: {err}");
        assert!(
            out.lines().any(|l| l.starts_with("slept ")),
            "{library}: {out}"
        );
    }
    let (_, err, output) = trace(&["-e", "uprobe:libnosuchlib:f { exit(); }"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("libnosuchlib"), "{err}");
    let (out, _, _) = trace(&["--info"]);
    assert!(out.contains("bcc library path resolution: yes"), "{out}");
}

/// A wildcard uprobe whose body is the same for every function goes on one uprobe.multi link
/// (where the kernel has them, as `--info` says) and counts every call; with `func`, the
/// bodies differ and each function keeps its own uprobe, still counted by name.
#[test]
fn wildcard_uprobes_share_one_multi_link() {
    use std::io::{BufRead, BufReader};
    let target = test_binary("uprobe_target");
    let multi = bpfhook::kernel::features::check(bpfhook::kernel::features::Feature::UprobeMulti);
    let info = trace(&["--info"]).0;
    let expected = format!("uprobe_multi: {}", if multi.is_ok() { "yes" } else { "no" });
    assert!(info.contains(&expected), "{info}");
    // The command waits a moment before calling, so the links can be looked at first.
    let (_file, command) = shell_script(&format!("sleep 0.5; echo go | {} 3", target.display()));
    let script = format!(
        "uprobe:{}:bpfhook_target_* /curtask->real_parent->tgid == cpid/ {{ @calls = count(); }}",
        target.display()
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bpfhook"))
        .args(["trace", "-c", &command, "-e", &script])
        .env("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawning bpfhook");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while stdout.read_line(&mut line).expect("reading") > 0 && !line.contains("ATTACHED") {
        line.clear();
    }
    let links: Vec<String> = bpfhook::inspect::list_links()
        .expect("links")
        .into_iter()
        .filter(|l| l.pids.iter().any(|h| h.pid == child.id()))
        .map(|l| l.link_type)
        .collect();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("reading");
    let status = child.wait().expect("bpfhook ends");
    assert!(status.success(), "{rest}");
    match multi {
        Ok(()) => assert_eq!(links, ["uprobe_multi"], "{links:?}"),
        Err(_) => assert_eq!(links.len(), 2, "{links:?}"),
    }
    assert!(rest.contains("@calls: 6"), "{rest}");

    let script = format!(
        "uprobe:{}:bpfhook_target_* /curtask->real_parent->tgid == cpid/ {{ @[func] = count(); }}",
        target.display()
    );
    let (_file, command) = fed(&target, "3");
    let (out, err, output) = trace(&["-c", &command, "-e", &script]);
    assert!(output.status.success(), "{err}");
    assert!(out.contains("@[bpfhook_target_fn]: 3"), "{out}");
    assert!(out.contains("@[bpfhook_target_more]: 3"), "{out}");
}

/// With `-p`, `uprobe:*:FUNC` finds the functions in the files the process maps (here its own
/// binary: one uprobe.multi link where the kernel has them), and the trace ends when the
/// process does, printing its maps.
#[test]
fn a_wildcard_binary_with_a_pid_probes_the_process_files_and_ends_with_it() {
    use std::io::{BufRead, BufReader, Write};
    let target = test_binary("uprobe_target");
    let mut process = std::process::Command::new(&target)
        .arg("4")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawning the target");
    let pid = process.id().to_string();
    let mut tracer = std::process::Command::new(env!("CARGO_BIN_EXE_bpfhook"))
        .args(["trace", "-p", &pid, "-e"])
        .arg("uprobe:*:bpfhook_target_* { @calls = count(); }")
        .env("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawning bpfhook");
    let mut stdout = BufReader::new(tracer.stdout.take().expect("stdout"));
    let mut line = String::new();
    while stdout.read_line(&mut line).expect("reading") > 0 && !line.contains("ATTACHED") {
        line.clear();
    }
    let links: Vec<String> = bpfhook::inspect::list_links()
        .expect("links")
        .into_iter()
        .filter(|l| l.pids.iter().any(|h| h.pid == tracer.id()))
        .map(|l| l.link_type)
        .collect();
    let mut stdin = process.stdin.take().expect("stdin");
    // The target may already be gone if attaching failed; the assertions below say why.
    let _ = stdin.write_all(b"go\n");
    drop(stdin);
    process.wait().expect("the target ends");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("reading");
    let output = tracer
        .wait_with_output()
        .expect("bpfhook ends with the process");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{err}");
    let multi = bpfhook::kernel::features::check(bpfhook::kernel::features::Feature::UprobeMulti);
    match multi {
        Ok(()) => assert_eq!(links, ["uprobe_multi"], "{links:?}"),
        Err(_) => assert_eq!(links.len(), 2, "{links:?}"),
    }
    assert!(rest.contains("@calls: 8"), "{rest}\n{err}");
}
