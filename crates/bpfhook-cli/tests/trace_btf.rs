//! `bpfhook trace` with kernel types from the running kernel's BTF: `curtask` as a
//! `struct task_struct *`, casts to kernel structs, `sizeof`/`offsetof`, bit fields, and the
//! errors a wrong field gives. The expected numbers come from bpftool's listing of the BTF.

mod trace_support;

use std::process::Command;

use trace_support::trace;

/// From `bpftool btf dump … format raw`: the size of `struct NAME` and the `bits_offset` of
/// its member `member`.
fn bpftool_struct(name: &str, member: &str) -> (u64, u64) {
    let output = Command::new("bpftool")
        .args([
            "btf",
            "dump",
            "file",
            "/sys/kernel/btf/vmlinux",
            "format",
            "raw",
        ])
        .output()
        .expect("bpftool runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let header = format!("STRUCT '{name}' size=");
    let mut lines = text.lines().skip_while(|l| !l.contains(&header));
    let first = lines.next().expect("the struct in bpftool's listing");
    let size = number_after(first, "size=");
    let member_line = lines
        .take_while(|l| !l.starts_with('['))
        .find(|l| l.trim_start().starts_with(&format!("'{member}' ")))
        .expect("the member in bpftool's listing");
    (size, number_after(member_line, "bits_offset="))
}

fn number_after(line: &str, key: &str) -> u64 {
    let rest = &line[line.find(key).expect(key) + key.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().expect("a number")
}

#[test]
fn curtask_is_a_task_struct_pointer() {
    let (out, err, output) = trace(&[
        "-e",
        r#"begin { printf("%d\n", curtask->pid == pid); printf("%s\n", curtask->comm); printf("%s\n", ((struct task_struct *)curtask)->comm); printf("%p\n", curtask); }"#,
    ]);
    assert!(output.status.success(), "{err}");
    let (named, address) = out.split_at("1\nbpfhook\nbpfhook\n".len());
    assert_eq!(named, "1\nbpfhook\nbpfhook\n");
    assert!(address.starts_with("0xffff"), "a kernel address: {address}");
}

#[test]
fn parent_pid_through_two_pointers_is_the_test_thread() {
    // The kernel's `pid` is a thread id: bpfhook's parent is the test thread that spawned it.
    let (out, err, output) = trace(&[
        "-e",
        r#"begin { printf("%d %d\n", curtask->parent->pid, curtask->real_parent->tgid); }"#,
    ]);
    assert!(output.status.success(), "{err}");
    let thread = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    let tid = thread.file_name().expect("a thread id").to_string_lossy();
    assert_eq!(out, format!("{tid} {}\n\n\n", std::process::id()));
}

#[test]
fn sizeof_and_offsetof_are_the_btf_numbers() {
    let (size, pid_bits) = bpftool_struct("task_struct", "pid");
    let (out, err, output) = trace(&[
        "-e",
        "begin { print(offsetof(struct task_struct, pid)); print(sizeof(struct task_struct)); }",
    ]);
    assert!(output.status.success(), "{err}");
    assert_eq!(out, format!("{}\n{size}\n\n\n", pid_bits / 8));
}

#[test]
fn bit_fields_are_read_apart_from_their_neighbours() {
    // During an exec, `in_execve` is 1; its neighbours in the same byte are 0 for /bin/true.
    let (out, err, output) = trace(&[
        "-c",
        "/bin/true",
        "-e",
        r#"tracepoint:sched:sched_process_exec /pid == cpid/ { printf("%d %d %d\n", curtask->sched_rt_mutex, curtask->in_execve, curtask->init_private_fork_class); exit(); }"#,
    ]);
    assert!(output.status.success(), "{err}");
    assert_eq!(out, "0 1 0\n\n\n");
}

#[test]
fn kernel_records_print_with_their_fields() {
    let (out, err, output) = trace(&["-e", "begin { print(curtask->se.load); }"]);
    assert!(output.status.success(), "{err}");
    assert!(
        out.starts_with("{ .weight = ") && out.contains(", .inv_weight = "),
        "{out}"
    );
}

#[test]
fn an_unknown_field_names_the_struct_and_points_at_the_field() {
    let (_, err, output) = trace(&["-e", "begin { print(curtask->parent->no_such_field); }"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        err.contains("ERROR: struct task_struct has no field named no_such_field"),
        "{err}"
    );
    let source = err.lines().nth(1).expect("the source line");
    let marks = err.lines().nth(2).expect("the underline");
    let start = source
        .find("no_such_field")
        .expect("the field in the source");
    assert_eq!(marks.find('~'), Some(start), "{err}");
    assert_eq!(marks.trim().len(), "no_such_field".len(), "{err}");
}

#[test]
fn unknown_kernel_types_and_oversized_values_are_refused() {
    let (_, err, output) = trace(&["-e", "begin { print(sizeof(struct no_such_struct)); }"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        err.contains("Unknown type: struct no_such_struct (not defined in the script nor in the kernel's BTF)"),
        "{err}"
    );
    // 170 KiB: it fits scratch memory alone, not with the record print copies it into.
    let (_, err, output) = trace(&["-e", "begin { print(*(struct pglist_data *)curtask); }"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        err.contains("bytes of scratch memory (limit 262144); lower BPFTRACE_MAX_STRLEN or read smaller values"),
        "{err}"
    );
}

#[test]
fn script_structs_win_over_the_kernels() {
    let (out, err, output) = trace(&[
        "-e",
        "struct task_struct { int x; } begin { print(sizeof(struct task_struct)); print(sizeof(*curtask)); }",
    ]);
    assert!(output.status.success(), "{err}");
    assert_eq!(
        out, "4\n4\n\n\n",
        "curtask points to the script's struct too"
    );
}

/// fentry/fexit arguments are typed from the function's BTF prototype (`args.count` a
/// size_t, `args.file` a `struct file *` read through), `retval` after them. Where the kernel
/// runs trampolines the probe must see this process's read of a marker; where it does not
/// (this VM: EPERM), the run must say why, as the feature probe does, and leave nothing.
#[test]
fn fentry_and_fexit_args_come_from_btf() {
    use bpfhook::kernel::features::{check, Feature};
    let script = r#"fexit:vfs_read /pid == cpid && retval > 0/ { printf("read %d of %d pos %d\n", retval, args.count, args.file->f_pos); exit(); }"#;
    let (out, err, output) = trace(&["--dry-run", "-c", "/bin/true", "-e", script]);
    assert!(output.status.success(), "compiles: {err}{out}");
    let dir = bpfhook_testkit::TempPath::dir("bpfhook-fentry");
    let marker = dir.join("marker");
    std::fs::write(&marker, "twelve bytes").expect("marker");
    let command = format!("/bin/cat {}", marker.display());
    let (out, err, output) = trace(&["-c", &command, "-e", script]);
    match check(Feature::Fentry) {
        Ok(()) => {
            assert!(output.status.success(), "{err}");
            assert!(out.contains("read 12 of "), "{out}");
        }
        Err(missing) => {
            assert_eq!(output.status.code(), Some(1), "{out}{err}");
            assert!(err.contains(&missing.reason), "{err}");
        }
    }
}

/// A syscall tracepoint's own pointers are user memory, but what `curtask` reaches is the
/// kernel's: reading it with a user-memory read would give zeros.
#[test]
fn curtask_is_kernel_memory_in_syscall_tracepoints_too() {
    let script = r#"t:syscalls:sys_enter_getpid /pid == cpid/ { printf("%d %d %d\n", curtask->pid == pid, curtask->parent->pid > 0, (*curtask).tgid == pid); exit(); }"#;
    let (_file, command) = bpfhook_testkit::shell_script("kill -0 $$");
    let (out, err, output) = trace(&["-c", &command, "-e", script]);
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("1 1 1\n"), "{out}");
}

/// Kernel pointers kept in variables: their fields (the type learns them when first read) and
/// their memory (the kernel's, as where they came from) stay right.
#[test]
fn kernel_pointers_in_variables_read_their_fields() {
    let script = r#"t:syscalls:sys_enter_getpid /pid == cpid/ { $p = curtask->parent; $t = curtask; printf("%d %d\n", $p->pid == $t->parent->pid, $p->pid > 0); exit(); }"#;
    let (_file, command) = bpfhook_testkit::shell_script("kill -0 $$");
    let (out, err, output) = trace(&["-c", &command, "-e", script]);
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("1 1\n"), "{out}");
}
