//! `bpfhook trace` on USDT probes: real `<sys/sdt.h>` probes of a compiled target
//! (tests/bin/usdt_target.c), their arguments read from the notes' specs, a semaphore the
//! kernel counts, wildcards, listing, and the errors of probes that are not there.

mod trace_support;

use bpfhook_testkit::{shell_script, test_binary, TempPath};
use trace_support::trace;

/// `echo go | usdt_target`: the target fires its probes once the line comes (after attaching).
fn fed() -> (std::path::PathBuf, TempPath, String) {
    let target = test_binary("usdt_target");
    let (file, command) = shell_script(&format!("echo go | {}", target.display()));
    (target, file, command)
}

#[test]
fn arguments_come_from_registers_memory_and_constants() {
    let (target, _file, command) = fed();
    // -8@%r12 -4@-N(%rbp) -4@$1234 4@%eax 8@%rdx (a pointer to a string on the stack).
    let script = format!(
        r#"usdt:{}:bpfhook:values {{ printf("%d %d %d %lld %s|%s\n", arg0, arg1, arg2, arg3, str(arg4), probe); exit(); }}"#,
        target.display()
    );
    let (out, err, output) = trace(&["-c", &command, "-e", &script]);
    assert!(output.status.success(), "{err}");
    let expected = format!(
        "-7 -42 1234 4294967280 hello usdt|usdt:{}:bpfhook:values",
        target.display()
    );
    assert!(out.lines().any(|l| l == expected), "{out}");
}

#[test]
fn a_semaphore_is_set_while_its_probe_is_attached() {
    let (target, _file, command) = fed();
    // Untraced, the target sees its semaphore at 0 and skips the gated site.
    let (out, err, output) = trace(&[
        "-c",
        &command,
        "-e",
        &format!("usdt:{}:bpfhook:twice {{}}", target.display()),
    ]);
    assert!(output.status.success(), "{err}");
    assert!(out.lines().any(|l| l == "semaphore 0"), "{out}");
    // Attached, the kernel counts it: the site runs and passes the count (2@%ax).
    let script = format!(
        r#"usdt:{}:bpfhook:gated {{ printf("gated %d\n", arg0); }}"#,
        target.display()
    );
    let (out, err, output) = trace(&["-c", &command, "-e", &script]);
    assert!(output.status.success(), "{err}");
    assert!(out.lines().any(|l| l == "semaphore 1"), "{out}");
    assert!(out.lines().any(|l| l == "gated 1"), "{out}");
}

#[test]
fn wildcards_attach_every_probe_and_every_site() {
    let (target, _file, command) = fed();
    // bpfhook:twice has two sites (arguments in memory, then in a register): one probe.
    let script = format!(
        r#"U:{}:*:twice {{ printf("twice %d\n", arg0); }} usdt:{0}:other:* {{ printf("%s %d\n", probe, arg0); }}"#,
        target.display()
    );
    let (out, err, output) = trace(&["-c", &command, "-e", &script]);
    assert!(output.status.success(), "{err}");
    assert!(err.contains("Attached 2 probes"), "{err}");
    for line in [
        "twice 1".to_owned(),
        "twice 101".to_owned(),
        format!("usdt:{}:other:values 1", target.display()),
    ] {
        assert!(out.lines().any(|l| l == line), "{line}: {out}");
    }
}

#[test]
fn listing_names_each_probe_once() {
    let target = test_binary("usdt_target");
    let (out, err, output) = trace(&["-l", &format!("usdt:{}:*", target.display())]);
    assert!(output.status.success(), "{err}");
    let path = target.display();
    let mut listed: Vec<&str> = out.lines().collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [
            format!("usdt:{path}:bpfhook:gated"),
            format!("usdt:{path}:bpfhook:twice"),
            format!("usdt:{path}:bpfhook:values"),
            format!("usdt:{path}:other:values"),
        ]
    );
    let (out, err, output) = trace(&["-l", "-e", &format!("usdt:{path}:bpfhook:tw* {{}}")]);
    assert!(output.status.success(), "{err}");
    assert_eq!(out.trim(), format!("usdt:{path}:bpfhook:twice"));
}

#[test]
fn missing_ambiguous_and_unreadable_probes_are_errors() {
    let target = test_binary("usdt_target");
    let path = target.display();
    let cases = [
        (
            format!("usdt:{path}:bpfhook:nope {{}}"),
            format!("ERROR: No matches for usdt:{path}:bpfhook:nope."),
        ),
        (
            "usdt:/no/such/binary:p:n {}".to_owned(),
            "ERROR: No matches for usdt:/no/such/binary:p:n".to_owned(),
        ),
        (
            format!("usdt:{path}:values {{}}"),
            "providers bpfhook, other all have a probe values".to_owned(),
        ),
        (
            format!("usdt:{path}:bpfhook:twice {{ print(arg1); }}"),
            format!("usdt:{path}:bpfhook:twice has 1 argument: there is no arg1"),
        ),
    ];
    for (script, expected) in cases {
        let (_, err, output) = trace(&["-e", &script]);
        assert_eq!(output.status.code(), Some(1), "{script}: {err}");
        assert!(err.contains(&expected), "{script}: {err}");
    }
}
