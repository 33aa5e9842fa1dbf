//! `bpfhook trace` on uprobes as bpftrace places them: the checks of where a probe goes, the
//! order probes on one function run in, probes on bare code. Real uprobes on real processes.

mod trace_support;

use std::path::PathBuf;

use bpfhook::discover::ElfBinary;
use bpfhook_testkit::{shell_script, test_binary, test_binary_with, TempPath};
use trace_support::{trace, trace_with_env};

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

/// The user stacks a uprobe on inline_target's leaf prints: `ustack`, then `ustack(2)`, each
/// frame a trimmed line. The leaf's return address lies in code inlined from two functions.
fn inlined_stacks(config: &str, env: &[(&str, &str)]) -> (Vec<String>, Vec<String>, PathBuf) {
    let target = test_binary_with("inline_target", &["-O2", "-fno-omit-frame-pointer"]);
    let (_file, lingering) = shell_script(&format!("(echo go; sleep 1) | {}", target.display()));
    // The first call only (its argument is the target's argc).
    let script = format!(
        r#"{config} uprobe:{}:bpfhook_leaf_fn /curtask->real_parent->tgid == cpid && arg0 == 1/ {{ printf("<%s>\n<%s>\n", ustack, ustack(2)); exit(); }}"#,
        target.display()
    );
    let (out, err, output) = trace_with_env(&["-c", &lingering, "-e", &script], env);
    assert!(output.status.success(), "{err}");
    let mut stacks = out.split('<').skip(1).map(|s| {
        let (stack, _) = s.split_once('>').unwrap_or_else(|| panic!("{out}"));
        stack
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    });
    let (full, limited) = (stacks.next(), stacks.next());
    (full.expect("a stack"), limited.expect("two stacks"), target)
}

/// `FILE:LINE` of the first line of inline_target.c holding `needle`.
fn target_line(needle: &str) -> String {
    let source = bpfhook_testkit::repo_root().join("tests/bin/inline_target.c");
    let text = std::fs::read_to_string(&source).expect("reading the source");
    let line = 1 + text.lines().position(|l| l.contains(needle)).expect(needle);
    format!("{}:{line}", source.display())
}

#[test]
fn user_stacks_show_the_functions_inlined_at_a_return_address_as_bpftrace_does() {
    let (full, limited, _) = inlined_stacks("", &[]);
    assert!(full[0].starts_with("bpfhook_leaf_fn+0@"), "{full:#?}");
    assert_eq!(
        full[1..3],
        [
            format!(
                "[inlined] bpfhook_inlined_inner@{}",
                target_line("return bpfhook_leaf_fn(x) ^")
            ),
            format!(
                "[inlined] bpfhook_inlined_outer@{}",
                target_line("return bpfhook_inlined_inner(x)")
            ),
        ],
        "{full:#?}"
    );
    // The function's own line is the call site of the outermost inlined one.
    let call = target_line("return bpfhook_inlined_outer(x)");
    assert!(
        full[3].starts_with("bpfhook_outer_fn+") && full[3].ends_with(&format!("@{call}")),
        "{full:#?}"
    );
    assert!(full[4].starts_with("main+"), "{full:#?}");
    // The limit counts addresses: two of them print four lines.
    assert_eq!(limited, full[..4], "{limited:#?}");

    // Without debug info, one line per address and no inlined functions.
    let (plain, _, _) = inlined_stacks("config = { show_debug_info = 0 }", &[]);
    assert_eq!(plain[0], "bpfhook_leaf_fn+0", "{plain:#?}");
    assert!(plain[1].starts_with("bpfhook_outer_fn+"), "{plain:#?}");
    assert!(!plain.iter().any(|l| l.contains("inlined")), "{plain:#?}");
}

#[test]
fn perf_stack_mode_marks_inlined_functions_at_their_address() {
    let (full, _, target) = inlined_stacks("", &[("BPFTRACE_STACK_MODE", "perf")]);
    // `ADDRESS NAME (inlined)` for each, at the address of the frame they are in.
    let fields: Vec<Vec<&str>> = full.iter().map(|l| l.split(' ').collect()).collect();
    let address = fields[1][0];
    assert!(u64::from_str_radix(address, 16).is_ok(), "{full:#?}");
    assert_eq!(
        full[1],
        format!("{address} bpfhook_inlined_inner (inlined)")
    );
    assert_eq!(
        full[2],
        format!("{address} bpfhook_inlined_outer (inlined)")
    );
    assert_eq!(fields[3][0], address, "{full:#?}");
    assert!(fields[3][1].starts_with("bpfhook_outer_fn+"), "{full:#?}");
    assert_eq!(fields[3][2], format!("({})", target.display()), "{full:#?}");
    // perf's mode names no source lines.
    assert!(!full.iter().any(|l| l.contains('@')), "{full:#?}");
}
