//! The BTF writers against the running kernel's BTF, with clang as the judge
//! of the header and bpftool as the oracle for both formats.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use bpfhook::btf::{write_c_header, write_raw, Btf, TypeId, TypeKind};
use bpfhook_testkit::TempPath;

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn vmlinux() -> Btf {
    Btf::from_file(VMLINUX).expect("kernel BTF at /sys/kernel/btf/vmlinux")
}

fn our_header(btf: &Btf) -> String {
    let mut out = Vec::new();
    write_c_header(btf, &mut out).expect("write header");
    String::from_utf8(out).expect("header is text")
}

/// Runs bpftool on the kernel BTF. A missing bpftool fails the test: it is
/// the oracle, and skipping would hide that nothing was compared.
fn bpftool_dump(format: &[&str]) -> String {
    let output = Command::new("bpftool")
        .args(["btf", "dump", "file", VMLINUX])
        .args(format)
        .output()
        .unwrap_or_else(|e| panic!("bpftool is needed as the test oracle but could not run: {e}"));
    assert!(
        output.status.success(),
        "bpftool failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("bpftool output is text")
}

fn clang_bpf(dir: &Path, source: &str) {
    let source_path = dir.join("prog.bpf.c");
    std::fs::write(&source_path, source).expect("write program");
    let output = Command::new("clang")
        .args(["-target", "bpf", "-O2", "-g", "-D__TARGET_ARCH_x86", "-c"])
        .arg(&source_path)
        .arg("-o")
        .arg(dir.join("prog.bpf.o"))
        .current_dir(dir)
        .output()
        .expect("clang must be installed");
    assert!(
        output.status.success(),
        "clang rejected the program:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

const SAMPLE_PROGRAM: &str = r#"
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

SEC("kprobe/do_nanosleep")
int BPF_KPROBE(sample, struct hrtimer_sleeper *sleeper)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	pid_t pid = BPF_CORE_READ(task, pid);
	struct sk_buff *skb = 0;
	__u8 pkt_type = BPF_CORE_READ_BITFIELD_PROBED(skb, pkt_type);
	union bpf_attr *attr = 0;
	__u32 map_type = BPF_CORE_READ(attr, map_type);
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	const struct file_operations *fops = BPF_CORE_READ(exe, f_op);
	void *read_fn = BPF_CORE_READ(fops, read);
	struct bpf_map *map = 0;
	enum bpf_map_type type = BPF_CORE_READ(map, map_type);
	__u64 sizes = sizeof(struct sk_buff) + sizeof(union bpf_attr) +
		      sizeof(struct file_operations) + sizeof(struct bpf_map);

	bpf_printk("pid %d pkt_type %d map_type %u", pid, pkt_type, map_type);
	bpf_printk("read %p type %d sizes %llu", read_fn, type, sizes);
	return 0;
}
"#;

#[test]
fn vmlinux_header_compiles_with_libbpf_headers() {
    let dir = TempPath::dir("bpfhook-btf-compile-");
    std::fs::write(dir.path().join("vmlinux.h"), our_header(&vmlinux())).expect("write header");
    clang_bpf(dir.path(), SAMPLE_PROGRAM);
    assert!(dir.path().join("prog.bpf.o").exists());
}

/// Whether `id` holds a `__builtin_va_list` by value. That type is the
/// compiler's own and differs between x86 (24 bytes) and BPF (a pointer), so
/// no header can reproduce such layouts for the BPF target.
fn embeds_va_list(btf: &Btf, id: TypeId, memo: &mut HashMap<TypeId, bool>) -> bool {
    if let Some(&known) = memo.get(&id) {
        return known;
    }
    let t = btf.type_by_id(id).expect("valid id");
    let embeds = match &t.kind {
        TypeKind::Typedef(_) if btf.name(t.name_off) == "__builtin_va_list" => true,
        TypeKind::Typedef(next) | TypeKind::Const(next) | TypeKind::Volatile(next) => {
            embeds_va_list(btf, *next, memo)
        }
        TypeKind::Array(array) => embeds_va_list(btf, array.elem, memo),
        TypeKind::Struct(c) | TypeKind::Union(c) => c
            .members
            .iter()
            .any(|m| embeds_va_list(btf, m.type_id, memo)),
        _ => false,
    };
    memo.insert(id, embeds);
    embeds
}

/// clang checks, for every struct and union whose name is unique, that the
/// header gives it the size and member offsets BTF records: the padding and
/// packing logic judged on ~10k real layouts.
#[test]
fn vmlinux_header_layouts_match_btf() {
    let btf = vmlinux();
    // Structs, unions and enums share C's tag namespace: a clash renames.
    let mut name_counts = HashMap::new();
    for id in btf.own_ids() {
        let t = btf.type_by_id(id).expect("own id");
        let is_tag = matches!(
            t.kind,
            TypeKind::Struct(_) | TypeKind::Union(_) | TypeKind::Enum(_) | TypeKind::Enum64(_)
        );
        if is_tag && t.name_off != 0 {
            *name_counts.entry(btf.name(t.name_off)).or_insert(0) += 1;
        }
    }
    let mut va_list_memo = HashMap::new();
    let mut checks = String::new();
    let mut checked_types = 0;
    for id in btf.own_ids() {
        let t = btf.type_by_id(id).expect("own id");
        let (keyword, composite) = match &t.kind {
            TypeKind::Struct(c) => ("struct", c),
            TypeKind::Union(c) => ("union", c),
            _ => continue,
        };
        let name = btf.name(t.name_off);
        if name.is_empty() || name_counts[name] != 1 || embeds_va_list(&btf, id, &mut va_list_memo)
        {
            continue;
        }
        checked_types += 1;
        let ty = format!("{keyword} {name}");
        writeln!(
            checks,
            "_Static_assert(sizeof({ty}) == {}, \"size of {ty}\");",
            composite.size
        )
        .expect("string write");
        for member in composite.members.iter() {
            let field = btf.name(member.name_off);
            if field.is_empty() || member.bitfield_size != 0 {
                continue;
            }
            writeln!(
                checks,
                "_Static_assert(__builtin_offsetof({ty}, {field}) == {}, \"{ty}.{field}\");",
                member.bit_offset / 8
            )
            .expect("string write");
        }
    }
    assert!(
        checked_types > 5_000,
        "only {checked_types} structs checked"
    );

    let dir = TempPath::dir("bpfhook-btf-layout-");
    std::fs::write(dir.path().join("vmlinux.h"), our_header(&btf)).expect("write header");
    let program = format!("#include \"vmlinux.h\"\n{checks}");
    clang_bpf(dir.path(), &program);
}

/// Names a header defines at top level: `struct x`, `union x`, `enum x`,
/// `typedef x`. A line-based reading of the layout both writers share.
fn defined_names(header: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_typedef_body = false;
    for line in header.lines() {
        if in_typedef_body {
            if let Some(rest) = line.strip_prefix('}') {
                names.insert(format!("typedef {}", last_identifier(rest)));
                in_typedef_body = false;
            }
            continue;
        }
        for keyword in ["struct", "union", "enum"] {
            if let Some(name) = line
                .strip_prefix(keyword)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|rest| rest.strip_suffix(" {"))
            {
                names.insert(format!("{keyword} {name}"));
            }
        }
        if let Some(rest) = line.strip_prefix("typedef ") {
            if rest.ends_with('{') {
                in_typedef_body = true;
            } else if let Some((_, after)) = rest.split_once("(*") {
                names.insert(format!("typedef {}", first_identifier(after)));
            } else {
                let declarator = rest.trim_end_matches(';');
                let declarator = declarator.split('[').next().unwrap_or(declarator);
                names.insert(format!("typedef {}", last_identifier(declarator)));
            }
        }
    }
    names
}

fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn first_identifier(text: &str) -> &str {
    let end = text.find(|c| !is_identifier_char(c)).unwrap_or(text.len());
    &text[..end]
}

fn last_identifier(text: &str) -> &str {
    let text = text.trim_end_matches(|c| !is_identifier_char(c));
    let start = text.rfind(|c| !is_identifier_char(c)).map_or(0, |i| i + 1);
    &text[start..]
}

#[test]
fn vmlinux_header_defines_the_same_names_as_bpftool() {
    let ours = defined_names(&our_header(&vmlinux()));
    let theirs = defined_names(&bpftool_dump(&["format", "c"]));
    for known in [
        "struct task_struct",
        "union bpf_attr",
        "enum bpf_map_type",
        "typedef pid_t",
        "typedef work_func_t",
    ] {
        assert!(theirs.contains(known), "name extraction missed {known}");
    }
    let missing: Vec<_> = theirs.difference(&ours).take(20).collect();
    let extra: Vec<_> = ours.difference(&theirs).take(20).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing from ours: {missing:?}\nextra in ours: {extra:?}"
    );
    assert!(ours.len() > 10_000, "only {} names", ours.len());
}

/// Beyond the names, the text itself matches bpftool line for line, except
/// the enum size attributes newer libbpf emits (bpftool 7.1 lacks them and
/// so mis-sizes `enum rw_hint: u8` and friends).
#[test]
fn vmlinux_header_matches_bpftool_text() {
    let normalize = |header: &str| {
        header
            .replace(" __attribute__((mode(byte)))", "")
            .replace(" __attribute__((mode(word)))", "")
    };
    let ours = normalize(&our_header(&vmlinux()));
    let theirs = normalize(&bpftool_dump(&["format", "c"]));
    if ours != theirs {
        let first_difference = ours
            .lines()
            .zip(theirs.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b);
        panic!("header differs from bpftool's; first differing line: {first_difference:?}");
    }
}

#[test]
fn raw_listing_matches_bpftool() {
    let mut ours = Vec::new();
    write_raw(&vmlinux(), &mut ours).expect("write raw");
    let ours = String::from_utf8(ours).expect("listing is text");
    let theirs = bpftool_dump(&[]);
    if ours != theirs {
        let first_difference = ours
            .lines()
            .zip(theirs.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b);
        panic!("raw listing differs from bpftool's; first differing line: {first_difference:?}");
    }
}
