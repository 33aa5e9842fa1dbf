//! `bpfhook trace` as a person runs it: bpftrace programs compiled by bpfhook, attached to
//! real hooks, with real activity, and the output bpftrace would print. Every test checks the
//! exit status and that no program of the run stays loaded.

mod trace_support;

use bpfhook_testkit::{shell_script, test_binary, TempPath};
use trace_support::{trace, trace_with_env};

#[test]
fn begin_printf_and_exit() {
    let (out, err, output) = trace(&[
        "-e",
        r#"BEGIN { printf("hi %d %s\n", 1 + 2 * 3, "there"); exit(); }"#,
    ]);
    assert!(output.status.success(), "{err}");
    // The run's output, then the two empty lines bpftrace ends every run with.
    assert_eq!(out, "hi 7 there\n\n\n");
    assert!(err.contains("Attached 1 probe"), "{err}");
}

#[test]
fn a_program_of_only_begin_ends_by_itself_and_prints_its_maps() {
    let (out, err, output) = trace(&["-e", "begin { @a[1] = 2; @a[3] = 4; @c = count(); @s = sum(5); @s = sum(6); @t = (1, \"str\"); }"]);
    assert!(output.status.success(), "{err}");
    for line in ["@a[1]: 2", "@a[3]: 4", "@c: 1", "@s: 11", "@t: (1, str)"] {
        assert!(
            out.lines().any(|l| l == line),
            "missing {line:?} in:\n{out}"
        );
    }
}

#[test]
fn interval_fires_until_exit() {
    let (out, err, output) = trace(&[
        "-e",
        "i:ms:20 { @n = count(); if (@n >= 3) { printf(\"done %d\\n\", @n); exit(); } }",
    ]);
    assert!(output.status.success(), "{err}");
    assert!(out.contains("done 3\n"), "{out}");
    assert!(out.lines().any(|l| l == "@n: 3"), "{out}");
}

#[test]
fn tracepoint_args_and_str_see_the_child_open_a_marker() {
    let dir = TempPath::dir("bpfhook-trace");
    let marker = dir.join("marker-file");
    std::fs::write(&marker, "x").expect("marker");
    let command = format!("/bin/cat {}", marker.display());
    let script = r#"tracepoint:syscalls:sys_enter_openat /pid == cpid/ { @opens[str(args.filename)] = count(); }"#;
    let (out, err, output) = trace(&["-c", &command, "-e", script]);
    assert!(output.status.success(), "{err}");
    let expected = format!("@opens[{}]: 1", marker.display());
    assert!(
        out.lines().any(|l| l == expected),
        "missing {expected:?} in:\n{out}"
    );
}

#[test]
fn uprobe_reads_arguments_and_uretprobe_the_return_value() {
    let target = test_binary("uprobe_target");
    let script = format!(
        "uprobe:{0}:bpfhook_target_fn /curtask->real_parent->tgid == cpid/ {{ @args[arg0] = count(); }} uretprobe:{0}:bpfhook_target_fn /curtask->real_parent->tgid == cpid/ {{ @ret = sum(retval); }}",
        target.display()
    );
    let (_file, command) = shell_script(&format!("echo go | {} 4", target.display()));
    let (out, err, output) = trace(&["-c", &command, "-e", &script]);
    assert!(output.status.success(), "{err}");
    for line in ["@args[0]: 1", "@args[3]: 1", "@ret: 12"] {
        assert!(
            out.lines().any(|l| l == line),
            "missing {line:?} in:\n{out}"
        );
    }
}

#[test]
fn kprobes_fail_with_the_reason_and_nothing_stays() {
    let (_, err, output) = trace(&["-e", "kprobe:vfs_read { @ = count(); }"]);
    assert!(!output.status.success());
    assert!(err.contains("kprobe"), "{err}");
    assert!(
        err.contains("CONFIG_KPROBES") || err.contains("not available"),
        "{err}"
    );
}

#[test]
fn syntax_errors_point_at_the_place() {
    let (_, err, output) = trace(&["-e", "begin { printf(\"x\") ) }"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.starts_with("stdin:1:"), "{err}");
    assert!(err.contains("ERROR"), "{err}");
    assert!(err.contains("~"), "{err}");
}

#[test]
fn type_errors_point_at_the_expression() {
    let (_, err, output) = trace(&["-e", "begin { $x = 1; $x = \"a\"; }"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("stdin:1:"), "{err}");
    assert!(err.contains("Type mismatch for $x"), "{err}");

    // A map read with keys of another shape, named as bpftrace names them.
    let (_, err, output) = trace(&[
        "-e",
        r#"begin { @g[1, "hi"] = 2; if (has_key(@g, (1, 2))) { } }"#,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("stdin:1:30-49: ERROR: Argument mismatch for @g: trying to access with arguments: '(int8,int8)' when map expects arguments: '(int8,string[3])'"), "{err}");
}

#[test]
fn json_output_is_one_object_per_line() {
    let (out, err, output) = trace(&[
        "-f",
        "json",
        "-e",
        "begin { printf(\"hi\\n\"); @x = 3; exit(); }",
    ]);
    assert!(output.status.success(), "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|v| v["type"] == "printf" && v["data"] == "hi\n"),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|v| v["type"] == "map" && v["data"]["@x"] == 3),
        "{out}"
    );
}

#[test]
fn histograms_print_with_bars() {
    let (out, err, output) = trace(&["-e", "begin { @h = hist(1); @h = hist(2); @h = hist(3); @h = hist(100); @l = lhist(5, 0, 10, 5); }"]);
    assert!(output.status.success(), "{err}");
    assert!(out.contains("@h:\n[1] "), "{out}");
    assert!(out.contains("[2, 4)"), "{out}");
    assert!(out.contains("|@"), "{out}");
    assert!(out.contains("[5, 10)"), "{out}");
}

#[test]
fn positional_parameters_and_their_count() {
    let (out, err, output) = trace(&[
        "-e",
        "begin { printf(\"%d %s %d\\n\", $#, str($1), $2); }",
        "one",
        "2",
    ]);
    assert!(output.status.success(), "{err}");
    assert_eq!(out, "2 one 2\n\n\n");
}

#[test]
fn profile_and_software_events_fire() {
    let (out, err, output) = trace(&["-e", "profile:hz:199 { @p = count(); } software:cpu-clock:1000000 { @s = count(); } i:ms:300 { exit(); }"]);
    assert!(output.status.success(), "{err}");
    assert!(out.lines().any(|l| l.starts_with("@p: ")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("@s: ")), "{out}");
}

#[test]
fn raw_tracepoints_attach() {
    let (out, err, output) = trace(&[
        "-e",
        "rawtracepoint:sys_enter { @n = count(); if (@n > 2) { exit(); } }",
    ]);
    assert!(output.status.success(), "{err}");
    assert!(out.lines().any(|l| l.starts_with("@n: ")), "{out}");
}

#[test]
fn control_flow_and_variables() {
    let script = r#"begin {
        $i = 0; $sum = 0;
        while ($i < 10) { $i++; if ($i % 2 == 0) { continue; } $sum += $i; }
        unroll (3) { $sum = $sum + 100; }
        $s = $sum > 300 ? "big" : "small";
        printf("%d %s %d\n", $sum, $s, (int8)-1 < 0);
        if (comm == "bpfhook") { printf("comm ok\n"); } else { printf("comm %s\n", comm); }
    }"#;
    let (out, err, output) = trace(&["-e", script]);
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("325 big 1\n"), "{out}");
    assert!(out.contains("comm ok\n"), "{out}");
}

#[test]
fn quiet_and_notify_attached() {
    let (out, err, output) = trace_with_env(
        &["-q", "-e", "begin { exit(); }"],
        &[("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1")],
    );
    assert!(output.status.success(), "{err}");
    assert!(!err.contains("Attached"), "{err}");
    assert!(out.contains("__BPFTRACE_NOTIFY_PROBES_ATTACHED\n"), "{out}");
}

#[test]
fn verifier_rejections_name_the_probe_and_show_the_log() {
    let (_, err, output) = trace(&["-e", "begin { $x = 1; while ($x) { $x = $x; } }"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        err.starts_with("ERROR: begin: the verifier rejected"),
        "{err}"
    );
    assert!(err.contains("infinite loop detected"), "{err}");
}

#[test]
fn probe_filter_keeps_matching_probes_and_begin() {
    let script = r#"BEGIN { printf("begin\n"); } interval:ms:50 { printf("bad\n"); exit(); } interval:ms:120 { printf("hit\n"); exit(); }"#;
    let (out, err, output) = trace(&["--probe-filter", ":120$", "-e", script]);
    assert!(output.status.success(), "{err}");
    assert_eq!(out, "begin\nhit\n\n\n");
    let (_, err, output) = trace(&[
        "--probe-filter",
        "nothing-matches",
        "-e",
        script.replace("BEGIN", "interval:ms:9").as_str(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("No probes to attach"), "{err}");
}

#[test]
fn ntop_formats_the_addresses_of_a_real_tcp_connection() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listening");
    let port = listener.local_addr().expect("address").port();
    let (_file, command) = shell_script(&format!("exec 3<>/dev/tcp/127.0.0.1/{port}"));
    let script = r#"tracepoint:sock:inet_sock_set_state /pid == cpid && args.family == 2 && args.newstate == 2/ { printf("%s -> %s:%d\n", ntop(args.saddr), ntop(args.daddr), args.dport); }"#;
    let (out, err, output) = trace(&["-c", &command, "-e", script]);
    assert!(output.status.success(), "{err}");
    assert_eq!(out, format!("127.0.0.1 -> 127.0.0.1:{port}\n\n\n"));
}

#[test]
fn values_named_when_printed_username_strerror_cgroup_path() {
    let (out, err, output) = trace(&[
        "-e",
        r#"begin { printf("%s|%s|%s\n", username, strerror(1), cgroup_path(cgroup)); }"#,
    ]);
    assert!(output.status.success(), "{err}");
    let parts: Vec<&str> = out.trim_end().split('|').collect();
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    assert_eq!(parts.len(), 3, "{out}");
    if uid == 0 {
        assert_eq!(parts[0], "root");
    } else {
        assert!(!parts[0].is_empty() && parts[0] != uid.to_string(), "{out}");
    }
    assert_eq!(parts[1], "Operation not permitted");
    assert!(parts[2].starts_with("unified:/"), "{out}");
}

#[test]
fn raw_tracepoint_wildcards_expand_through_btf() {
    let (out, err, output) = trace(&[
        "-e",
        "rawtracepoint:sys_e* { @[probe] = count(); if (@[probe] > 2) { exit(); } }",
    ]);
    assert!(output.status.success(), "{err}");
    assert!(out.contains("@[rawtracepoint:sys_enter]: "), "{out}");
}

#[test]
fn for_over_a_map_sees_every_entry_with_per_cpu_counts_summed() {
    let dir = TempPath::dir("bpfhook-trace-for");
    let marker = dir.join("for-marker");
    std::fs::write(&marker, "x\n").expect("marker");
    let command = format!("/bin/cat {}", marker.display());
    let script = format!(
        r#"tracepoint:syscalls:sys_enter_openat /pid == cpid/ {{ @opens[str(args.filename)] = count(); }}
        end {{
            $total = 0;
            for ($kv : @opens) {{
                if ($kv.0 == "{}") {{ printf("marker %d\n", $kv.1); }}
                $total += $kv.1;
            }}
            printf("total %d\n", $total);
        }}"#,
        marker.display()
    );
    let (out, err, output) = trace(&["-c", &command, "-e", &script]);
    assert!(output.status.success(), "{err}");
    assert!(out.lines().any(|l| l == "marker 1"), "{out}");
    // The loop's total is what the exit dump of @opens adds up to.
    let dumped: u64 = out
        .lines()
        .filter(|l| l.starts_with("@opens["))
        .map(|l| l.rsplit(": ").next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(dumped >= 1, "{out}");
    assert!(out.lines().any(|l| l == format!("total {dumped}")), "{out}");
}

#[test]
fn nested_for_loops_and_a_return_inside_one_end_the_probe() {
    let script = r#"begin {
        @a[1] = 1; @a[2] = 2; @b[10] = 10; @b[20] = 20; @b[30] = 30;
        for ($x : @a) { for ($y : @b) { printf("%d-%d\n", $x.0, $y.0); } }
        for ($x : @a) { if ($x.0 == 2) { printf("returning\n"); return; } }
        printf("not reached\n");
    }"#;
    let (out, err, output) = trace(&["-e", script]);
    assert!(output.status.success(), "{err}");
    let mut pairs: Vec<&str> = out.lines().filter(|l| l.contains('-')).collect();
    pairs.sort();
    assert_eq!(
        pairs,
        ["1-10", "1-20", "1-30", "2-10", "2-20", "2-30"],
        "{out}"
    );
    assert_eq!(out.matches("returning").count(), 1, "{out}");
    assert!(!out.contains("not reached"), "{out}");
}

#[test]
fn for_over_a_histogram_is_refused_before_loading() {
    let (_, err, output) = trace(&[
        "-e",
        "begin { @h[1] = hist(3); for ($kv : @h) { print($kv); } }",
    ]);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("for loops over hist() maps are not supported"),
        "{err}"
    );
    assert!(err.contains("^") || err.contains("~"), "{err}");
}

#[test]
fn a_range_whose_bounds_come_from_a_map_runs_through_bpf_loop() {
    // The verifier cannot bound `0..@n` itself: the body runs as a bpf_loop callback, sees
    // and updates the probe's variables, and `break`/`return` work from inside it.
    let script = r#"begin {
        @n = 5; $sum = 0;
        for ($i : 0..@n) { $sum += $i; @n += 1; }
        printf("sum %d\n", $sum);
        for ($i : 1..@n) { if ($i == 3) { break; } printf("i %d\n", $i); }
        for ($i : 0..@n) { if ($i == 2) { printf("ret\n"); return; } }
        printf("not reached\n");
    }"#;
    let (out, err, output) = trace(&["-e", script]);
    assert!(output.status.success(), "{err}");
    // The bounds are read once, before the first iteration: 0+1+2+3+4.
    assert!(out.contains("sum 10\n"), "{out}");
    assert!(out.contains("i 1\ni 2\nret\n"), "{out}");
    assert!(!out.contains("not reached"), "{out}");
    assert!(out.lines().any(|l| l == "@n: 10"), "{out}");
}

#[test]
fn modern_syntax_unparenthesised_conditions_and_late_typed_let() {
    // `if`/`while`/`for` without parentheses; `let $x;` typed by a later assignment, and
    // zero again where it is declared anew.
    let script = r#"begin {
        @a[1] = 1;
        $i = 0;
        while $i < 3 { $i++; }
        if $i == 3 && $i > 1 { printf("i %d\n", $i); }
        for $kv : @a { printf("kv %d\n", $kv.1); }
        $x = 7;
        let $x;
        if $x { $x = 5; }
        printf("x %d\n", $x);
    }"#;
    let (out, err, output) = trace(&["-e", script]);
    assert!(output.status.success(), "{err}");
    assert!(out.contains("i 3\nkv 1\nx 0\n"), "{out}");
}

#[test]
fn missing_probes_fail_warn_or_are_ignored_as_configured() {
    let program = |policy: &str| {
        format!("{policy} tracepoint:syscalls:sys_enter_getpid, tracepoint:nonsense:nonsense, rawtracepoint:nonsense:sys_exit {{ exit(); }} begin {{ printf(\"ran\\n\"); }}")
    };
    let (out, err, output) = trace(&["-e", &program("")]);
    assert_eq!(output.status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains("ERROR: No matches for tracepoint nonsense:nonsense."),
        "{err}"
    );
    assert!(
        err.contains("ERROR: No matches for rawtracepoint nonsense:sys_exit."),
        "{err}"
    );
    assert!(!out.contains("ran"), "nothing runs: {out}");

    let (out, err, output) = trace(&[
        "-c",
        "/bin/true",
        "-e",
        &program("config = { missing_probes = warn }"),
    ]);
    assert!(output.status.success(), "{err}");
    assert!(
        err.contains("WARNING: No matches for tracepoint nonsense:nonsense. Skipping."),
        "{err}"
    );
    // The tracepoint that exists, and begin.
    assert!(err.contains("Attached 2 probes"), "{err}");
    assert!(out.contains("ran"), "{out}");

    let (out, err, output) = trace(&[
        "-c",
        "/bin/true",
        "-e",
        &program("config = { missing_probes = \"ignore\" }"),
    ]);
    assert!(output.status.success(), "{err}");
    assert!(!err.contains("No matches"), "{err}");
    assert!(out.contains("ran"), "{out}");
}

#[test]
fn address_of_a_variable_reads_back_through_the_pointer() {
    let script = r#"begin {
        $a = 41; $b = &$a; $a++;
        $s = "hey"; $p = (int8 *)&$s;
        printf("%d %c%c\n", *$b, *$p, *++$p);
        print(($b, 1));
    }"#;
    let (out, err, output) = trace(&["-e", script]);
    assert!(output.status.success(), "{err}");
    // The pointer sees the later write; a char pointer steps one byte.
    assert!(out.starts_with("42 he\n(0x"), "{out}");
}

#[test]
fn block_expressions_elvis_and_discard() {
    let script = r#"begin {
        print({ $x = 1; printf("in block\n"); $x + 1 });
        @avg = { let $a = 100; avg($a) };
        $zero = 0; $seven = 7;
        print(($zero ?: 20, $seven ?: 30));
        _ = { printf("discarded\n"); 1 };
    }"#;
    let (out, err, output) = trace(&["-e", script]);
    assert!(output.status.success(), "{err}");
    assert!(
        out.starts_with("in block\n2\n(20, 7)\ndiscarded\n"),
        "{out}"
    );
    assert!(out.lines().any(|l| l == "@avg: 100"), "{out}");
}

#[test]
fn listing_types_aliases_return_probes_and_a_files_probes() {
    let (out, err, output) = trace(&["-lv", "struct fd, struct file"]);
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("vmlinux: struct fd {\n"), "{out}");
    assert!(out.contains("\nvmlinux: struct file {\n"), "{out}");
    let (_, err, output) = trace(&["-lv", "struct no_such_type_here"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("not defined in the kernel's BTF"), "{err}");

    let (out, _, _) = trace(&["-l", "software:*"]);
    assert!(out.lines().any(|l| l == "software:cpu-clock:"), "{out}");
    assert!(out.lines().any(|l| l == "software:cpu:"), "{out}");

    let (out, err, _) = trace(&["-l", "uretprobe:/bin/bash:readline"]);
    assert_eq!(out, "uretprobe:/bin/bash:readline\n", "{err}");

    let dir = TempPath::dir("bpfhook-trace-list");
    let file = dir.join("timers.bt");
    std::fs::write(
        &file,
        "interval:ms:1000 {} interval:s:1 {} interval:us:100000 {}",
    )
    .unwrap();
    let (out, err, _) = trace(&["-l", file.to_str().unwrap()]);
    assert_eq!(out, "interval:ms:\ninterval:s:\ninterval:us:\n", "{err}");
}

#[test]
fn uaddr_reads_a_global_of_the_probed_binary() {
    let binary = bpfhook_testkit::test_binary_with("globals_target", &["-no-pie"]);
    let script = format!(
        r#"uprobe:{}:bpfhook_globals_fn {{ printf("0x%x 0x%lx\n", *uaddr("bpfhook_global_int"), *uaddr("bpfhook_global_long")); exit(); }}"#,
        binary.display()
    );
    let (_file, command) = shell_script(&format!("echo go | {}", binary.display()));
    let (out, err, output) = trace(&["-c", &command, "-e", &script]);
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("0x55555555 0x1122334455667788\n"), "{out}");

    // A symbol the binary lacks is an error before anything loads.
    let pie = test_binary("uprobe_target");
    let script = format!(
        r#"uprobe:{}:bpfhook_target_fn {{ print(*uaddr("nothing_here")); }}"#,
        pie.display()
    );
    let (_, err, output) = trace(&["-e", &script]);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("Could not resolve symbol"), "{err}");
}

#[test]
fn pton_gives_the_bytes_ntop_reads() {
    let script = r#"begin { printf("%s %s %d\n", ntop(2, pton("10.1.2.3")), ntop(pton("fe80::1:2")), pton("10.1.2.3")[1]); }"#;
    let (out, err, output) = trace(&["-e", script]);
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("10.1.2.3 fe80::1:2 1\n"), "{out}");
}

#[test]
fn hist_with_sub_buckets_counts_each_value_in_its_labelled_bucket() {
    // Every value 0..2000 once: a bucket must count exactly the values its bounds name.
    for bits in ["0", "2", "5"] {
        let script =
            format!("begin {{ $i = 0; while ($i < 2000) {{ @ = hist($i, {bits}); $i++; }} }}");
        let (out, err, output) = trace(&["-f", "json", "-e", &script]);
        assert!(output.status.success(), "{err}");
        let line = out.lines().find(|l| l.contains("\"hist\"")).expect(&out);
        let hist: serde_json::Value = serde_json::from_str(line).expect("json");
        let buckets = hist["data"]["@"].as_array().expect("buckets");
        let mut total = 0;
        for bucket in buckets {
            let (min, max, count) = (
                &bucket["min"],
                &bucket["max"],
                bucket["count"].as_u64().unwrap(),
            );
            let (min, max) = (min.as_u64().unwrap(), max.as_u64().unwrap_or(u64::MAX));
            assert_eq!(count, max.min(1999) - min + 1, "bits {bits}: {bucket}");
            total += count;
        }
        assert_eq!(total, 2000, "bits {bits}");
    }
}

#[test]
fn license_cat_limit_and_unreachable_code_as_bpftrace_has_them() {
    let (_, err, output) = trace(&["-e", r#"config = { license = "Potato" } begin { exit(); }"#]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        err.contains("ERROR: Invalid value for license. Found: Potato."),
        "{err}"
    );

    // A GPL-compatible license goes into the object; GPL-only helpers still load.
    let (out, err, output) = trace(&[
        "-e",
        r#"config = { license = "Dual BSD/GPL" } begin { printf("%s\n", comm); }"#,
    ]);
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("bpfhook\n"), "{out}");

    let (out, err, output) = trace_with_env(
        &[
            "-e",
            r#"begin { cat("/proc/version"); exit(); printf("never\n"); }"#,
        ],
        &[("BPFTRACE_MAX_CAT_BYTES", "5")],
    );
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("Linux\n"), "{out}");
    assert!(err.contains("WARNING: Unreachable statement"), "{err}");
    assert!(!out.contains("never"), "{out}");
}

#[test]
fn stack_modes_and_frame_limits() {
    let hex = |l: &str| !l.is_empty() && l.chars().all(|c| c.is_ascii_hexdigit());
    let script = r#"t:syscalls:sys_enter_getpid /pid == cpid/ { printf("<perf>%s", kstack(perf, 2)); printf("<raw>%s", kstack(raw, 3)); printf("<one>%s", kstack(1)); exit(); }"#;
    let (_file, command) = shell_script("cat /proc/self/stat > /dev/null; kill -0 $$");
    let (out, err, output) = trace(&["-c", &command, "-e", script]);
    assert!(output.status.success(), "{err}");
    let section = |name: &str| -> Vec<String> {
        out.split(name)
            .nth(1)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .take_while(|l| !l.is_empty() && !l.starts_with('<'))
            .map(str::to_owned)
            .collect()
    };
    let perf = section("<perf>");
    assert_eq!(perf.len(), 2, "{out}");
    for line in &perf {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(
            hex(fields[0]) && fields[1].contains('+') && fields[2] == "([kernel.kallsyms])",
            "{line}"
        );
    }
    let raw = section("<raw>");
    assert!(raw.len() == 3 && raw.iter().all(|l| hex(l)), "{out}");
    let one = section("<one>");
    assert!(
        one.len() == 1 && one[0].trim() == perf[0].split_whitespace().nth(1).unwrap(),
        "{out}"
    );

    // The mode from the environment, unless the call names one.
    let script =
        r#"t:syscalls:sys_enter_getpid /pid == cpid/ { printf("<env>%s", kstack(2)); exit(); }"#;
    let (out, err, output) = trace_with_env(
        &["-c", &command, "-e", script],
        &[("BPFTRACE_STACK_MODE", "raw")],
    );
    assert!(output.status.success(), "{err}");
    let lines: Vec<&str> = out
        .split("<env>")
        .nth(1)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .take(2)
        .collect();
    assert!(lines.len() == 2 && lines.iter().all(|l| hex(l)), "{out}");
}

#[test]
fn raw_tracepoint_args_are_named_and_typed_from_btf() {
    // sched_switch's arguments: (preempt, prev, next, prev_state); prev/next are task_structs.
    // `args.prev` is the same pointer as arg1.
    let script = r#"rawtracepoint:sched_switch /args.prev->pid == cpid && args.prev->comm == "sleep"/ { printf("%s %d %d\n", args.prev->comm, (uint64)args.prev == arg1, args.next->pid != cpid); exit(); }"#;
    let (out, err, output) = trace(&["-c", "/bin/sleep 0.2", "-e", script]);
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("sleep 1 1\n"), "{out}");

    // sched_wakeup belongs to a class (sched_wakeup_template): its arguments are named by the
    // event's probe stub. The sleeper is woken when its time is up.
    let script = r#"rawtracepoint:sched_wakeup /args.p->pid == cpid && args.p->comm == "sleep"/ { printf("woke %s\n", args.p->comm); exit(); }"#;
    let (out, err, output) = trace(&["-c", "/bin/sleep 0.2", "-e", script]);
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("woke sleep\n"), "{out}");
}

#[test]
fn tracepoint_struct_pointers_are_typed_through_btf() {
    // clock_nanosleep's rqtp is a `struct __kernel_timespec *` in the format file.
    let script = r#"t:syscalls:sys_enter_clock_nanosleep /pid == cpid/ { printf("%d %d\n", args.rqtp->tv_sec, (*args.rqtp).tv_nsec); exit(); }"#;
    let (out, err, output) = trace(&["-c", "/bin/sleep 0.25", "-e", script]);
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("0 250000000\n"), "{out}");
}

#[test]
fn self_signal_probes_run_in_order_on_sigusr1() {
    use std::io::{BufRead, Read};
    let bin = env!("CARGO_BIN_EXE_bpfhook");
    let mut child = std::process::Command::new(bin)
        .args(["trace", "-e", r#"self:signal:SIGUSR1 { printf("first"); } self:signal:SIGUSR1 { printf(" second\n"); exit(); }"#])
        .env("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bpfhook trace");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("notify line");
    assert_eq!(line.trim(), "__BPFTRACE_NOTIFY_PROBES_ATTACHED");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGUSR1) };
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("output");
    let output = child.wait_with_output().expect("exit");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(rest.starts_with("first second\n"), "{rest}");
}

#[test]
fn dash_k_reports_failed_reads_and_missing_keys_where_they_happen() {
    let script = r#"struct foo { int a; } begin { @[1] = 1; printf("%d\n", @[2]); $x = ((struct foo *) 8).a; }"#;
    let (_, err, output) = trace(&["-k", "-e", script]);
    assert!(output.status.success(), "{err}");
    assert!(err.contains("stdin:1:56-60: WARNING: Can't lookup map element because it does not exist.\nAdditional Info - helper: map_lookup_elem, retcode: 0\n"), "{err}");
    assert!(
        err.contains("Additional Info - helper: probe_read_kernel, retcode: -"),
        "{err}"
    );
    let (out, err, output) = trace(&["-k", "-f", "json", "-e", script]);
    assert!(output.status.success(), "{err}");
    assert!(out.contains(r#"{"type": "helper_error", "msg": "Can't lookup map element because it does not exist.", "helper": "map_lookup_elem", "retcode": 0, "filename": "stdin", "line": 1, "col": 56}"#), "{out}");
    // Without -k, nothing is said.
    let (_, err, output) = trace(&["-e", script]);
    assert!(output.status.success() && !err.contains("helper"), "{err}");
}

#[test]
fn named_tuples_are_records_in_text_and_json() {
    let script = r#"begin { $v = (x = 1, y = "two"); printf("%d %s\n", $v.x, $v.y); @a = (a = 0, d = (5, 6), e = $v); }"#;
    let (out, err, output) = trace(&["-e", script]);
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("1 two\n"), "{out}");
    assert!(
        out.lines()
            .any(|l| l == "@a: { .a = 0, .d = (5, 6), .e = { .x = 1, .y = two } }"),
        "{out}"
    );
    let (out, err, output) = trace(&["-f", "json", "-e", script]);
    assert!(output.status.success(), "{err}");
    assert!(
        out.contains(
            r#"{"type": "map", "data": {"@a": {"a": 0, "d": [5,6], "e": {"x": 1, "y": "two"}}}}"#
        ),
        "{out}"
    );
}

#[test]
fn script_structs_lay_out_bit_fields_nested_arrays_anonymous_members_and_floats_as_c() {
    let binary = test_binary("records_target");
    let prelude = "struct R { unsigned int a:4, b:8, c:3, d:1, e:16; int grid[2][3]; struct { short inner; } anon; union { int i; float f; } u; }";
    let script = format!(
        r#"{prelude} uprobe:{}:bpfhook_records_fn {{ $r = (struct R *)arg0; printf("%d %d %d %d %d %d\n", $r->a, $r->b, $r->c, $r->d, $r->e, $r->grid[1][2]); print($r->grid); print(*$r); exit(); }}"#,
        binary.display()
    );
    let (_file, command) = shell_script(&format!("echo go | {}", binary.display()));
    let (out, err, output) = trace(&["-c", &command, "-e", &script]);
    assert!(output.status.success(), "{err}");
    // The target's own line (buffer=…) may come first.
    let lines: Vec<&str> = out.lines().filter(|l| !l.starts_with("buffer=")).collect();
    assert_eq!(lines[0], "9 200 5 1 40000 6", "{out}");
    assert_eq!(lines[1], "[[1,2,3],[4,5,6]]", "{out}");
    // A float has a place but no value in the language: null, as in bpftrace.
    assert!(
        lines[2].contains(".anon = { .inner = -7 }") && lines[2].contains(".i = 42, .f = null"),
        "{out}"
    );

    let script = format!(
        r#"{prelude} uprobe:{}:bpfhook_records_fn {{ print(*(struct R *)arg0); exit(); }}"#,
        binary.display()
    );
    let (out, err, output) = trace(&["-f", "json", "-q", "-c", &command, "-e", &script]);
    assert!(output.status.success(), "{err}");
    assert!(
        out.contains(
            r#""grid": [[1,2,3],[4,5,6]], "anon": {"inner": -7}, "u": {"i": 42, "f": null}"#
        ),
        "{out}"
    );

    // A bit field wider than its type is refused before anything loads.
    let (_, err, output) = trace(&["-e", "struct S { char c:9; } begin { }"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("bit field c of 9 bits does not fit"), "{err}");
}

#[test]
fn write_user_needs_unsafe_and_a_kernel_that_allows_it() {
    let (_, err, output) = trace(&["-e", r#"begin { write_user(0, "x", 1); }"#]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        err.contains("write_user() is unsafe. To use you need the --unsafe flag"),
        "{err}"
    );

    let binary = test_binary("records_target");
    let script = format!(
        r#"uprobe:{}:bpfhook_poke_fn {{ printf("ret=%d\n", write_user(arg0, "zz", 2)); exit(); }}"#,
        binary.display()
    );
    let (_file, command) = shell_script(&format!("echo go | {}", binary.display()));
    let (out, err, output) = trace(&["--unsafe", "-c", &command, "-e", &script]);
    // The kernel decides: kernel lockdown (integrity and up) withholds bpf_probe_write_user.
    if bpfhook::kernel::features::has_helper(bpfhook::asm::Helper::ProbeWriteUser as u32) {
        assert!(output.status.success(), "{err}");
        assert!(
            out.contains("ret=0") && out.contains("buffer=zzaa"),
            "{out}"
        );
    } else {
        assert_eq!(output.status.code(), Some(1));
        assert!(
            err.contains("write_user() needs the bpf_probe_write_user helper")
                && err.contains("withholds it"),
            "{err}"
        );
    }
}

#[test]
fn str_of_a_positional_parameter_plus_an_offset_and_an_unset_record_map() {
    let (out, err, output) = trace(&[
        "-e",
        r#"begin { printf("%s|%s\n", str($1 + 1), str($1 + 10)); print(@r); } end { @r = (a=1, b=(2, "hi")); }"#,
        "hello",
    ]);
    assert!(output.status.success(), "{err}");
    assert!(
        out.starts_with("ello|\n@r: { .a = 0, .b = (0, ) }\n"),
        "{out}"
    );
    assert!(out.contains("@r: { .a = 1, .b = (2, hi) }"), "{out}");
}

#[test]
fn tracepoint_enum_fields_print_as_their_enumerator() {
    // A UDP datagram to a loopback port nobody listens on is dropped: NO_SOCKET.
    let script = r#"tracepoint:skb:kfree_skb { $r = args.reason; printf("%d %s\n", args.reason, $r); exit(); }"#;
    let (_file, command) =
        shell_script("for i in 1 2 3 4 5; do echo x > /dev/udp/127.0.0.1/9; sleep 0.1; done");
    let (out, err, output) = trace(&["-c", &command, "-e", script]);
    assert!(output.status.success(), "{err}");
    assert!(
        out.lines()
            .any(|l| l.split_once(' ').is_some_and(|(n, name)| {
                n.parse::<u32>().is_ok() && name.starts_with("SKB_DROP_REASON_")
            })),
        "{out}"
    );
}

#[test]
fn percpu_kaddr_reads_a_per_cpu_variable_where_kallsyms_lists_it() {
    let script = r#"begin { $rq = (struct rq *)percpu_kaddr("runqueues", 0); printf("cpu0 %d\n", $rq->cpu); printf("same %d\n", *percpu_kaddr("process_counts") == *percpu_kaddr("process_counts", cpu)); exit(); }"#;
    let (out, err, output) = trace(&["-e", script]);
    // The verifier resolves the variable through kallsyms: data symbols are there only with
    // CONFIG_KALLSYMS_ALL.
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").expect("kallsyms");
    if kallsyms
        .lines()
        .any(|l| l.split_whitespace().nth(2) == Some("runqueues"))
    {
        assert!(output.status.success(), "{err}");
        assert!(
            out.contains("cpu0 0\n") && out.contains("same 1\n"),
            "{out}"
        );
    } else {
        assert_eq!(output.status.code(), Some(1));
        assert!(
            err.contains("runqueues is not in /proc/kallsyms")
                && err.contains("CONFIG_KALLSYMS_ALL"),
            "{err}"
        );
    }
    // A name the kernel's BTF does not have is an error either way.
    let (_, err, output) = trace(&[
        "-e",
        r#"begin { print(percpu_kaddr("no_such_variable")); }"#,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        err.contains("no_such_variable is not a variable in the kernel's BTF"),
        "{err}"
    );
}

#[test]
fn strings_str_may_have_cut_end_with_the_trailer() {
    let dir = TempPath::dir("bpfhook-trace");
    let marker = dir.join("abcdefghij");
    // cat prints it, on a line of its own.
    std::fs::write(&marker, "x\n").expect("marker");
    let script = r#"tracepoint:syscalls:sys_enter_openat /pid == cpid/ { $p = str(args.filename); if (strcontains($p, "abcdefg")) { printf("<%s> <%s> <%s>\n", $p, comm, str(args.filename, 4)); exit(); } }"#;
    let command = format!("/bin/cat {}", marker.display());
    let whole = marker.display().to_string();
    // A string of up to BPFTRACE_MAX_STRLEN characters shows whole; a longer one shows that
    // many and the trailer. comm and strings of explicit length never get one.
    for (max, trailer, expected) in [
        (whole.len() + 1, None, whole.clone()),
        (
            whole.len() - 3,
            None,
            format!("{}..", &whole[..whole.len() - 3]),
        ),
        (
            whole.len() - 3,
            Some("_cut"),
            format!("{}_cut", &whole[..whole.len() - 3]),
        ),
    ] {
        let max = max.to_string();
        let mut env = vec![("BPFTRACE_MAX_STRLEN", max.as_str())];
        if let Some(t) = trailer {
            env.push(("BPFTRACE_STR_TRUNC_TRAILER", t));
        }
        let (out, err, output) = trace_with_env(&["-c", &command, "-e", script], &env);
        assert!(output.status.success(), "{err}");
        let line = format!("<{expected}> <cat> <{}>", &whole[..3]);
        assert!(
            out.lines().any(|l| l == line),
            "expected {line:?} in:\n{out}"
        );
    }
}

#[test]
fn strings_of_9999_bytes_in_tuples_and_for_loops_of_a_real_execve() {
    // The command execs a 5556-byte path (the kernel refuses it, but the tracepoint sees it
    // first). $f, its tuple and the loop's element need some 40 KB of scratch: more than a
    // per-CPU value holds.
    let long = format!("/{}", "X".repeat(5555));
    let (_script, command) = shell_script(&format!("exec {long} 2>/dev/null\n"));
    let program = r#"t:syscalls:sys_enter_execve /pid == cpid/ { $f = str(args.filename); if (strncmp($f, "/XXXX", 5) == 0) { print((1, (2, $f))); @m[$f] = $f; for ($kv : @m) { print($kv); } clear(@m); exit(); } }"#;
    let (out, err, output) = trace_with_env(
        &["-c", &command, "-e", program],
        &[("BPFTRACE_MAX_STRLEN", "9999")],
    );
    assert!(output.status.success(), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let tuple = format!("(1, (2, {long}))");
    let element = format!("({long}, {long})");
    assert!(lines.contains(&tuple.as_str()), "no tuple line in:\n{out}");
    assert!(lines.contains(&element.as_str()), "no loop line in:\n{out}");
}

#[test]
fn scratch_past_its_limit_is_refused_before_loading() {
    let program = format!(
        "begin {{ $s = str(0); print(({})); }}",
        ["$s"; 16].join(", ")
    );
    let (_, err, output) = trace_with_env(&["-e", &program], &[("BPFTRACE_MAX_STRLEN", "16384")]);
    assert!(!output.status.success());
    assert!(
        err.contains("bytes of scratch memory (limit 262144); lower BPFTRACE_MAX_STRLEN"),
        "{err}"
    );
}

#[test]
fn debugf_writes_to_the_global_trace_buffer() {
    let marker = format!("bpfhook-debugf-{}", std::process::id());
    let script = format!(
        r#"begin {{ debugf("{marker} %s %d %x", "a", 1, 16); debugf("{marker} many %d %d %d %d %s", 1, 2, 3, 4, comm); exit(); }}"#
    );
    let (out, err, output) = trace(&["-e", &script]);
    assert!(output.status.success(), "{err}");
    // bpfhook trace prints nothing of it: it goes where trace_printk goes (bpfhook mounted
    // tracefs to run the probes).
    assert!(!out.contains(&marker), "{out}");
    let buffer = std::fs::read_to_string("/sys/kernel/tracing/trace").expect("the trace buffer");
    for line in [
        format!("{marker} a 1 10"),
        format!("{marker} many 1 2 3 4 bpfhook"),
    ] {
        assert!(
            buffer
                .lines()
                .any(|l| l.contains("bpf_trace_printk: ") && l.ends_with(&line)),
            "no {line:?} in the trace buffer"
        );
    }
    // bpf_trace_vprintk takes 12 arguments at most.
    let program = format!(
        r#"begin {{ debugf("{}", {}); }}"#,
        ["%d"; 13].join(" "),
        ["1"; 13].join(", ")
    );
    let (_, err, output) = trace(&["-e", &program]);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("debugf() takes at most 12 arguments"), "{err}");
}

#[test]
fn mode_bench_runs_bench_probes_and_reports_them() {
    let (out, err, output) = trace(&["--mode", "bench", "-e", "bench:a { @n = count(); }"]);
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("Benchmark "), "{out}");
    assert!(
        out.lines().nth(2).is_some_and(|l| l.starts_with("a ")),
        "{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("@n: ")), "{out}");
    assert!(!err.contains("Attached"), "{err}");
    let (out, err, output) = trace(&["-f", "json", "--bench", "-e", "bench:b { }"]);
    assert!(output.status.success(), "{err}");
    assert!(
        out.starts_with(r#"{"type": "benchmark_result", "data": {"b": {"average": "#),
        "{out}"
    );
    let (_, err, output) = trace(&["--mode", "test", "-e", "bench:a { }"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("--mode test is not supported"), "{err}");
}

#[test]
fn sigint_ends_a_run_whose_probes_flood_it_with_commands_and_end_probes_still_run() {
    use std::io::{BufRead, BufReader, Read};
    // Every context switch asks for a command, and each command makes more switches.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bpfhook"))
        .args(["trace", "--unsafe", "-e"])
        .arg(r#"tracepoint:sched:sched_switch { system("true"); } end { printf("end\n"); }"#)
        .env("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("bpfhook runs");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while !line.contains("__BPFTRACE_NOTIFY_PROBES_ATTACHED") {
        line.clear();
        assert!(
            stdout.read_line(&mut line).expect("reading") > 0,
            "no notice"
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: kill has no memory preconditions; the pid is our child's.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = std::time::Instant::now();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("reading");
    let status = child.wait().expect("bpfhook ends");
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?} after SIGINT",
        started.elapsed()
    );
    assert!(rest.lines().any(|l| l == "end"), "{rest}");
    assert!(!bpfhook_testkit::program_loaded(&format!(
        "bt{}_0",
        child.id()
    )));
}

#[test]
fn begin_runs_before_the_other_probes_attach() {
    // The interval's first tick comes 100 ms after it attaches, so at least 100 ms after begin.
    let script = "begin { @start = nsecs; } i:ms:100 { printf(\"late enough %d\\n\", nsecs - @start >= 100000000); exit(); }";
    let (out, err, output) = trace(&["-e", script]);
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("late enough 1\n"), "{out}");
}

#[test]
fn user_stack_frames_name_their_source_line_from_dwarf() {
    // Built with -g: the frame gets @file:line in bpftrace's stack mode, unless configured off.
    let target = test_binary("uprobe_target");
    let (_file, lingering) = shell_script(&format!(
        "(echo go; sleep 1) | {} 1 linger",
        target.display()
    ));
    for (config, with_line) in [("", true), ("config = { show_debug_info = 0 }", false)] {
        let script = format!(
            r#"{config} uprobe:{}:bpfhook_target_fn /curtask->real_parent->tgid == cpid/ {{ printf("<%s>\n", ustack(1)); exit(); }}"#,
            target.display()
        );
        let (out, err, output) = trace(&["-c", &lingering, "-e", &script]);
        assert!(output.status.success(), "{err}");
        let frame = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("bpfhook_target_fn+"))
            .unwrap_or_else(|| panic!("no frame in {out}"));
        match frame.split_once('@') {
            Some((_, at)) => {
                assert!(with_line, "{out}");
                let (file, line) = at.rsplit_once(':').expect("file:line");
                assert!(file.ends_with("tests/bin/uprobe_target.c"), "{out}");
                // The function starts on line 6 of the target's source.
                assert!(
                    (6..=8).contains(&line.parse::<u32>().expect("a line")),
                    "{out}"
                );
            }
            None => assert!(!with_line, "{out}"),
        }
    }
}

#[test]
fn variables_take_the_smallest_type_of_their_literals_until_counted() {
    // As in bpftrace: `$x = 1` is one byte; `++` and `+=` take a variable to 64 bits (a loop
    // counter past 255 ends), a declared type stays; any other value widens.
    let script = r#"begin { $x = 1; $big = 100000; $i = 0; while ($i < 300) { $i++; } $a = 5; $a += 1; let $s: uint8 = 1; $s++; $w = 1; $w = pid; printf("%d %d %d %d %d %d %d\n", sizeof($x), sizeof($big), sizeof($i), $i, sizeof($a), sizeof($s), sizeof($w)); exit(); }"#;
    let (out, err, output) = trace(&["-e", script]);
    assert!(output.status.success(), "{err}");
    assert_eq!(out.lines().next(), Some("1 4 8 300 8 1 8"), "{out}");
}

#[test]
fn verbose_loads_keep_the_verifier_log_in_a_buffer_of_log_size() {
    // A valid program: with -v it loads with a log, and 2 bytes cannot hold it.
    let script = r#"begin { if (str($1) == str($2)) { printf("%s\n", str($1)); exit() } }"#;
    let (out, err, output) = trace_with_env(
        &["-v", "-e", script, "same", "same"],
        &[("BPFTRACE_LOG_SIZE", "2")],
    );
    assert_eq!(output.status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains("ERROR: Error loading BPF program for begin_1. Error code: -28 (No space left on device)."),
        "{err}"
    );
    assert!(
        err.contains("WARNING: Kernel log seems to be trimmed"),
        "{err}"
    );
    assert!(!out.contains("same"), "{out}");
    // The script's config says the same; a roomy buffer loads, and the program runs.
    let sized = format!("config = {{ log_size = 2 }} {script}");
    let (_, err, output) = trace(&["-v", "-e", &sized, "same", "same"]);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("Error code: -28"), "{err}");
    let (out, err, output) = trace_with_env(
        &["-v", "-e", script, "same", "same"],
        &[("BPFTRACE_LOG_SIZE", "10000000")],
    );
    assert!(output.status.success(), "{err}");
    assert_eq!(out.lines().next(), Some("same"), "{out}");
}

#[test]
fn config_probetype_and_strlen_builtins() {
    // config() shows the settings the run has: the environment's, then the script's.
    let script = r#"config = { stack_mode = perf } begin { printf("%d %s %d %d\n", config().max_strlen, config().stack_mode, config().cpp_demangle, config().log_size); printf("%s %d\n", probetype, strlen("four")); if (config().max_strlen == __builtin_config.max_strlen && probetype() == __builtin_probetype) { printf("wrappers\n"); } } interval:ms:1 { printf("%s %d\n", probetype, strlen(comm)); exit(); }"#;
    let (out, err, output) = trace_with_env(
        &["-e", script],
        &[("BPFTRACE_MAX_STRLEN", "40"), ("BPFTRACE_LOG_SIZE", "4096")],
    );
    assert!(output.status.success(), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        &lines[..3],
        ["40 perf 1 4096", "special 4", "wrappers"],
        "{out}"
    );
    // Interval probes run in the idle or interrupted task: its comm's length, whatever it is.
    let (kind, length) = lines[3].split_once(' ').expect("two words");
    assert_eq!(kind, "interval", "{out}");
    assert!(
        (1..16).contains(&length.parse::<u32>().expect("a length")),
        "{out}"
    );
    // A user macro of a builtin's name and shape replaces it; another shape does not.
    let (out, err, output) = trace(&[
        "-e",
        r#"macro cpu() { "mine\n" } macro pid(x) { x } begin { printf(cpu()); print(pid("a")); printf("%d\n", pid > 0); exit(); }"#,
    ]);
    assert!(output.status.success(), "{err}");
    assert_eq!(
        out.lines().take(3).collect::<Vec<_>>(),
        ["mine", "a", "1"],
        "{out}"
    );
}

#[test]
fn typeof_names_types_for_macros_and_declarations() {
    let cases = [
        // A declaration typed like a parameter.
        (
            "macro add(x) { let $y: typeof(x); $y = 1; x + $y } begin { print(add(41)); exit(); }",
            "42",
        ),
        // Types given to a macro, used as an array, a pointer and a record.
        (
            "struct Foo { char m; } macro sof(a, b) { sizeof(a[2]) + sizeof(b*) + sizeof(b) } begin { print(sof(typeof(uint64*), typeof(struct Foo))); exit(); }",
            "25",
        ),
        // Passed on through another macro; and the type of a kernel value.
        (
            "macro m(t) { sizeof(t) + 2 } macro n(z) { print(m(typeof(z))); } begin { n(typeof(uint32)); print(sizeof(typeof(comm))); exit(); }",
            "6\n16",
        ),
        // A cast to a pointer to a type the macro was given.
        (
            "macro at(t, v) { (t*)v } begin { print(at(typeof(uint8), 258)); exit(); }",
            "0x102",
        ),
        // A negative literal is as wide as it needs (int8 here), widened to a pointer
        // without its sign, as bpftrace does.
        (
            "macro cst(a) { (a*)-1 } begin { print(cst(typeof(uint8))); print((uint64)-1); exit(); }",
            "0xff\n18446744073709551615",
        ),
    ];
    for (script, expected) in cases {
        let (out, err, output) = trace(&["-e", script]);
        assert!(output.status.success(), "{script}: {err}");
        assert!(out.starts_with(&format!("{expected}\n")), "{script}: {out}");
    }
    // A type is no value.
    let (_, err, output) = trace(&["-e", "begin { print(typeof(1)); }"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        err.contains("a type stands only where a type goes"),
        "{err}"
    );
}
