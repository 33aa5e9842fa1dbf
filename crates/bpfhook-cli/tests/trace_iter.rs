//! `iter:` probes of `bpfhook trace`: BPF iterators over the kernel's tasks and files, run once
//! the script is attached, their output printed as they walk; the run ends when they are done.

mod trace_support;

use trace_support::trace;

#[test]
fn a_task_iterator_walks_every_task_and_ends_the_run() {
    // `pid` is the reader's: bpfhook itself, one of the tasks walked.
    let script = r#"iter:task /ctx.task != 0 && ctx.task.tgid == pid/ { printf("me %s\n", ctx.task.comm); } iter:task { @tasks = count(); }"#;
    let (out, err, output) = trace(&["-e", script]);
    assert!(output.status.success(), "{err}");
    assert!(err.contains("Attached 2 probes"), "{err}");
    assert!(out.lines().any(|l| l == "me bpfhook"), "{out}");
    // Every task, and the walk's last call, which has none.
    let tasks: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("@tasks: "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no @tasks in {out}"));
    let processes = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .count() as u64;
    assert!(
        tasks > processes / 2,
        "{tasks} tasks walked, /proc has {processes} processes"
    );
}

#[test]
fn a_file_iterator_sees_the_standard_descriptors_and_output_after_exit_still_prints() {
    let script = r#"iter:task_file /ctx.task != 0 && ctx.task.tgid == pid && ctx.fd < 3/ { printf("fd %d\n", ctx.fd); exit(); }"#;
    let (out, err, output) = trace(&["-e", script]);
    assert!(output.status.success(), "{err}");
    // As in bpftrace, exit() does not cut the walk short: all three lines print.
    for line in ["fd 0", "fd 1", "fd 2"] {
        assert!(
            out.lines().any(|l| l == line),
            "missing {line:?} in:\n{out}"
        );
    }
}

#[test]
fn iterators_are_listed_and_unknown_ones_are_errors_before_loading() {
    let (out, err, output) = trace(&["-l", "iter:*"]);
    assert!(output.status.success(), "{err}");
    for line in ["iter:task", "iter:task_file", "iter:task_vma"] {
        assert!(
            out.lines().any(|l| l == line),
            "missing {line:?} in:\n{out}"
        );
    }

    let (_, err, output) = trace(&["-e", "iter:no_such_thing { @ = count(); }"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        err.contains(
            "stdin:1:1-19: ERROR: iter:no_such_thing: the kernel's BTF has no such iterator"
        ),
        "{err}"
    );

    let (_, err, output) = trace(&["-e", "iter:task* { }"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("not a wildcard"), "{err}");
}
