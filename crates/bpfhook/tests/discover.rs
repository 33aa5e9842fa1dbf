//! Discovery on the real kernel: every listed kind against its own source, uprobe and USDT
//! listing of a test binary, hook descriptions, and bad inputs. Read-only, so parallel-safe.

use std::collections::{BTreeSet, HashSet};

use bpfhook::attach::PerfEventKind;
use bpfhook::btf::{Btf, TypeKind};
use bpfhook::discover::{
    self, is_kprobe_candidate, DiscoverError, Formatter, Glob, HookKind, KprobeFunctions,
    KprobeSource, ListOptions,
};
use bpfhook::kernel::kallsyms::Kallsyms;
use bpfhook::kernel::tracefs;

fn list(pattern: Option<&str>, kinds: &[HookKind], all: bool, binary: Option<&str>) -> Vec<String> {
    let options = ListOptions {
        pattern: pattern.map(|p| Glob::new(p).expect("glob")),
        kinds: (!kinds.is_empty()).then(|| kinds.to_vec()),
        all,
        binary: binary.map(str::to_owned),
    };
    let mut lines = Vec::new();
    discover::list(&options, |line| {
        lines.push(line.to_owned());
        Ok(())
    })
    .expect("listing");
    lines
}

fn available_events() -> Vec<String> {
    let root = tracefs::root().expect("tracefs");
    std::fs::read_to_string(root.join("available_events"))
        .expect("available_events")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_tracepoint_glob_returns_exactly_the_matching_events() {
    let listed: BTreeSet<String> = list(
        Some("tracepoint:syscalls:sys_enter_execve*"),
        &[],
        false,
        None,
    )
    .into_iter()
    .collect();
    let expected: BTreeSet<String> = available_events()
        .into_iter()
        .filter(|e| e.starts_with("syscalls:sys_enter_execve"))
        .map(|e| format!("tracepoint:{e}"))
        .collect();
    assert!(expected.contains("tracepoint:syscalls:sys_enter_execve"));
    assert_eq!(listed, expected);
}

#[test]
fn every_tracepoint_is_listed_once() {
    let listed = list(None, &[HookKind::Tracepoint], false, None);
    assert_eq!(listed.len(), available_events().len());
    assert_eq!(listed.iter().collect::<HashSet<_>>().len(), listed.len());
}

#[test]
fn kprobes_are_the_kernels_probeable_functions() {
    let listed = list(None, &[HookKind::Kprobe], true, None);
    let functions = KprobeFunctions::read().expect("kprobe functions");
    let expected: HashSet<String> = match functions.source() {
        KprobeSource::FilterFunctions => functions.names().map(str::to_owned).collect(),
        // available_filter_functions is refused here: the text symbols of kallsyms instead.
        KprobeSource::Kallsyms => Kallsyms::read()
            .expect("kallsyms")
            .symbols()
            .filter(is_kprobe_candidate)
            .map(|s| s.name.to_owned())
            .collect(),
    };
    assert!(expected.contains("do_sys_openat2"));
    assert_eq!(listed.len(), expected.len());
    let listed: HashSet<String> = listed
        .iter()
        .map(|l| {
            l.strip_prefix("kprobe:")
                .expect("kprobe: prefix")
                .to_owned()
        })
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(
        list(Some("kretprobe:*"), &[], true, None).len(),
        listed.len()
    );
}

/// BTF functions (and typedefs) counted with the full parser, vmlinux and every module.
fn btf_counts() -> (usize, usize, usize) {
    let vmlinux = std::sync::Arc::new(Btf::from_file("/sys/kernel/btf/vmlinux").expect("BTF"));
    let mut layers = vec![std::sync::Arc::clone(&vmlinux)];
    for entry in std::fs::read_dir("/sys/kernel/btf")
        .expect("sysfs btf")
        .flatten()
    {
        if entry.file_name() != "vmlinux" {
            let bytes = std::fs::read(entry.path()).expect("module BTF");
            layers.push(std::sync::Arc::new(
                Btf::parse_split(&bytes, &vmlinux).expect("split BTF"),
            ));
        }
    }
    let (mut functions, mut lsm, mut raw) = (0, 0, 0);
    for (i, btf) in layers.iter().enumerate() {
        for id in btf.own_ids() {
            let Some(t) = btf.type_by_id(id) else {
                continue;
            };
            let name = btf.name(t.name_off);
            match t.kind {
                TypeKind::Func { .. } => {
                    functions += 1;
                    lsm += usize::from(i == 0 && name.starts_with("bpf_lsm_"));
                }
                TypeKind::Typedef(_) => raw += usize::from(name.starts_with("btf_trace_")),
                _ => {}
            }
        }
    }
    (functions, lsm, raw)
}

#[test]
fn btf_kinds_count_what_btf_describes() {
    let (functions, lsm, raw) = btf_counts();
    assert!(
        functions > 10_000 && lsm > 100 && raw > 100,
        "{functions} {lsm} {raw}"
    );
    assert_eq!(list(None, &[HookKind::Fentry], true, None).len(), functions);
    assert_eq!(list(None, &[HookKind::Fexit], true, None).len(), functions);
    assert_eq!(list(None, &[HookKind::Lsm], true, None).len(), lsm);
    let raw_listed = list(None, &[HookKind::RawTracepoint], false, None);
    assert_eq!(raw_listed.len(), raw);
    assert!(raw_listed.iter().any(|l| l == "rawtracepoint:sched_switch"));
    assert!(list(Some("fentry:do_sys_openat2"), &[], true, None) == ["fentry:do_sys_openat2"]);
}

#[test]
fn perf_events_are_the_names_we_accept() {
    let software = list(None, &[HookKind::Software], false, None);
    // Each event, then its short names (`cpu` for `cpu-clock`), as bpftrace lists them.
    let with_aliases = |n: &'static str| std::iter::once(n).chain(PerfEventKind::aliases(n));
    let expected: Vec<String> = PerfEventKind::names()
        .filter(|n| matches!(PerfEventKind::parse(n), Some(PerfEventKind::Software(_))))
        .flat_map(with_aliases)
        .map(|n| format!("software:{n}"))
        .collect();
    assert_eq!(software, expected);
    assert!(software.iter().any(|l| l == "software:cpu-clock"));
    assert!(software.iter().any(|l| l == "software:cpu"));
    let hardware = list(Some("hardware:*"), &[], false, None);
    assert_eq!(
        software.len() + hardware.len(),
        PerfEventKind::names().flat_map(with_aliases).count()
    );
}

#[test]
fn kinds_the_kernel_cannot_attach_are_left_out_with_the_probes_reason() {
    let options = ListOptions {
        pattern: Some(Glob::new("*execve*").expect("glob")),
        ..ListOptions::default()
    };
    let mut lines = Vec::new();
    let summary = discover::list(&options, |l| {
        lines.push(l.to_owned());
        Ok(())
    })
    .expect("listing");
    for kind in [HookKind::Kprobe, HookKind::Fentry, HookKind::Lsm] {
        let feature = kind.feature().expect("a feature");
        let prefix = format!("{kind}:");
        match bpfhook::kernel::features::check(feature) {
            Ok(()) => assert!(summary.left_out.iter().all(|l| l.kind != kind)),
            Err(missing) => {
                assert!(
                    lines.iter().all(|l| !l.starts_with(&prefix)),
                    "{kind} listed"
                );
                let left = summary.left_out.iter().find(|l| l.kind == kind);
                assert_eq!(left.map(|l| l.reason.clone()), Some(missing.to_string()));
            }
        }
    }
    // Without a binary, uprobes are left out with a hint, not an error.
    assert!(summary.left_out.iter().any(|l| l.kind == HookKind::Uprobe));
    assert_eq!(summary.lines, lines.len());
}

fn test_binary() -> String {
    bpfhook_testkit::test_binary("discover_target")
        .to_str()
        .expect("utf-8 path")
        .to_owned()
}

#[test]
fn uprobe_and_usdt_hooks_of_a_test_binary() {
    let bin = test_binary();
    let uprobes = list(Some(&format!("uprobe:{bin}:*")), &[], false, None);
    for function in ["bpfhook_discover_alpha", "bpfhook_discover_beta", "main"] {
        assert!(
            uprobes.contains(&format!("uprobe:{bin}:{function}")),
            "{function} missing from {uprobes:?}"
        );
    }
    let narrowed = list(
        Some("*discover_[ab]*"),
        &[HookKind::Uprobe],
        false,
        Some(&bin),
    );
    assert_eq!(narrowed.len(), 2, "{narrowed:?}");
    // alpha_called fires at two sites but is one hook.
    let usdt = list(Some(&format!("usdt:{bin}:*")), &[], false, None);
    assert_eq!(
        usdt,
        [
            format!("usdt:{bin}:bpfhook_test:alpha_called"),
            format!("usdt:{bin}:bpfhook_test:beta_called"),
        ]
    );
    let mut formatter = Formatter::new();
    let mut out = Vec::new();
    formatter
        .describe(&format!("uprobe:{bin}:bpfhook_discover_beta"), &mut out)
        .expect("describe");
    let text = String::from_utf8(out).expect("text");
    assert!(
        text.contains("address 0x") && text.contains("file offset 0x"),
        "{text}"
    );
    let mut out = Vec::new();
    formatter
        .describe(&format!("usdt:{bin}:bpfhook_test:alpha_called"), &mut out)
        .expect("describe");
    let text = String::from_utf8(out).expect("text");
    assert_eq!(text.matches("// site 0x").count(), 2, "{text}");
}

fn describe(hook: &str) -> Result<String, DiscoverError> {
    let mut out = Vec::new();
    Formatter::new().describe(hook, &mut out)?;
    Ok(String::from_utf8(out).expect("text"))
}

#[test]
fn tracepoint_fields_match_the_format_file() {
    let text = describe("tracepoint:syscalls:sys_enter_openat").expect("describe");
    let root = tracefs::root().expect("tracefs");
    let format = std::fs::read_to_string(root.join("events/syscalls/sys_enter_openat/format"))
        .expect("format file");
    for field in ["filename", "flags", "mode"] {
        // `\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;`
        let line = format
            .lines()
            .find(|l| l.contains(&format!(" {field};")))
            .expect("field in the format file");
        let offset = line
            .split("offset:")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .expect("offset");
        let ours = text
            .lines()
            .find(|l| l.contains(&format!(" {field};")))
            .unwrap_or_else(|| panic!("{field} missing from:\n{text}"));
        assert!(
            ours.contains(&format!("offset {offset},")),
            "{ours} vs {line}"
        );
    }
}

#[test]
fn functions_show_their_btf_prototype() {
    let text = describe("fentry:do_sys_openat2").expect("describe");
    assert!(
        text.trim_start()
            .starts_with("long do_sys_openat2(int dfd, const char *filename")
            || text
                .trim_start()
                .starts_with("int do_sys_openat2(int dfd, const char *filename"),
        "{text}"
    );
    assert!(text.trim_end().ends_with(");"), "{text}");
    assert!(describe("kfunc:vfs_read")
        .expect("alias")
        .contains("vfs_read(struct file *"));
    assert!(describe("fexit:vfs_read")
        .expect("fexit")
        .contains("retval"));
    assert!(describe("lsm:file_open")
        .expect("lsm")
        .contains("bpf_lsm_file_open(struct file *"));
    assert!(describe("rawtracepoint:sched_switch")
        .expect("raw tracepoint")
        .contains("typedef void (*btf_trace_sched_switch)(void *"));
    let sched = describe("tracepoint:sched:sched_switch").expect("sched_switch");
    assert!(
        sched.contains("struct trace_event_raw_sched_switch {"),
        "{sched}"
    );
}

#[test]
fn bad_inputs_are_clear_errors() {
    assert!(matches!(Glob::new("[abc"), Err(e) if e.to_string().contains("no closing `]`")));
    let missing = describe("tracepoint:nope:nope").expect_err("no such tracepoint");
    assert!(
        matches!(missing, DiscoverError::NoSuchHook { .. }),
        "{missing}"
    );
    assert!(matches!(
        describe("fentry:no_such_function_xyz"),
        Err(DiscoverError::NoSuchHook { .. })
    ));
    assert!(matches!(
        describe("bogus:x"),
        Err(DiscoverError::UnknownKind(_))
    ));
    assert!(matches!(
        describe("no-colon"),
        Err(DiscoverError::NoSuchHook { .. })
    ));
    assert!(matches!(
        describe("tracepoint:../..:x"),
        Err(DiscoverError::NoSuchHook { .. })
    ));

    let dir = bpfhook_testkit::TempPath::dir("bpfhook-text-");
    let text_file = dir.join("not-elf.txt");
    std::fs::write(&text_file, "not an ELF file\n").expect("write");
    let options = ListOptions {
        binary: Some(text_file.to_string_lossy().into_owned()),
        kinds: Some(vec![HookKind::Uprobe]),
        ..ListOptions::default()
    };
    let not_elf = discover::list(&options, |_| Ok(()));
    assert!(
        matches!(not_elf, Err(DiscoverError::NotElf { .. })),
        "{not_elf:?}"
    );

    let options = ListOptions {
        pattern: Some(Glob::new("uprobe:/no/such/binary:*").expect("glob")),
        ..ListOptions::default()
    };
    let missing = discover::list(&options, |_| Ok(())).expect_err("missing binary");
    assert!(missing.to_string().contains("/no/such/binary"), "{missing}");

    let needs_binary = ListOptions {
        kinds: Some(vec![HookKind::Usdt]),
        ..ListOptions::default()
    };
    assert!(matches!(
        discover::list(&needs_binary, |_| Ok(())),
        Err(DiscoverError::NeedsBinary { .. })
    ));
}
