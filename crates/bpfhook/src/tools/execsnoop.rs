//! execsnoop: one record per exec, with pid, ppid, uid, the new command's name, its arguments
//! and execve's return value — built with our instruction builder, so it needs no clang.
//!
//! `sys_enter_execve` fills a per-thread entry in the `execs` hash (argument strings are only
//! readable before the exec replaces the address space); `sys_exit_execve` adds the return value
//! and the new comm, applies the name filter, and sends the entry to the `events` ring buffer.
//!
//! The program is generated on the machine it runs on, so instead of CO-RE relocations it bakes
//! in the running kernel's offsets of `task_struct.real_parent` and `task_struct.tgid`, read from
//! its BTF.

use crate::asm::{
    elf::map_type_from_name, AluOp, AsmError, Builder, Helper, JmpOp, MapSpec, ObjectSpec,
    ProgramSpec, Size, R0, R1, R10, R2, R3, R4, R6, R7, R8, R9,
};
use crate::btf::{Btf, BtfKind, TypeKind};

/// Bytes kept per argument (longer ones are cut), as BCC's execsnoop.
pub const ARG_SIZE: usize = 128;
/// Default number of arguments kept, the filename included.
pub const DEFAULT_MAX_ARGS: usize = 20;

// Record layout (all little-endian, as the program writes it):
const PID: i16 = 0;
const PPID: i16 = 4;
const UID: i16 = 8;
const RET: i16 = 12;
const ARG_COUNT: i16 = 16;
const TRUNCATED: i16 = 20;
const COMM: i16 = 24;
const COMM_LEN: usize = 16;
const ARGS: usize = 40;

const BPF_F_NO_PREALLOC: u32 = 1;

/// `sys_enter_execve`'s context: 8 bytes of common fields, the syscall number (padded to 8),
/// then the arguments as unsigned longs. This layout is the tracepoint ABI of every kernel.
const CTX_FILENAME: i16 = 16;
const CTX_ARGV: i16 = 24;
/// `sys_exit_execve`'s `long ret`, after the common fields and the syscall number.
const CTX_RET: i16 = 16;

/// What to trace.
#[derive(Debug, Clone)]
pub struct ExecsnoopOptions {
    /// Only execs by this user (checked in the kernel).
    pub uid: Option<u32>,
    /// Only execs whose new command name (comm, at most 15 bytes) is exactly this (in the kernel).
    pub name: Option<String>,
    /// Arguments kept per exec, the filename included (1..=64).
    pub max_args: usize,
}

impl Default for ExecsnoopOptions {
    fn default() -> Self {
        Self {
            uid: None,
            name: None,
            max_args: DEFAULT_MAX_ARGS,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExecsnoopError {
    #[error("reading the kernel's BTF from /sys/kernel/btf/vmlinux: {0}")]
    KernelBtf(String),
    #[error("the kernel's BTF has no `{0}`; execsnoop needs it to find the parent pid")]
    MissingMember(&'static str),
    #[error("--name must be 1 to 15 bytes (a kernel comm), got {0:?}")]
    BadName(String),
    #[error("--max-args must be between 1 and 64, got {0}")]
    BadMaxArgs(usize),
    #[error("building the program: {0}")]
    Asm(#[from] AsmError),
}

/// One exec, decoded from a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecEvent {
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    /// execve's return value: 0, or a negative errno.
    pub ret: i32,
    /// The command name after the exec (the kernel's comm).
    pub comm: String,
    /// The filename, then argv[1..].
    pub args: Vec<String>,
    /// More arguments existed than were kept.
    pub truncated: bool,
}

impl ExecEvent {
    /// Decodes a record; None if it is shorter than its header says.
    pub fn decode(data: &[u8]) -> Option<Self> {
        let u32_at = |off: i16| -> Option<u32> {
            let off = usize::try_from(off).ok()?;
            Some(u32::from_le_bytes(data.get(off..off + 4)?.try_into().ok()?))
        };
        let count = u32_at(ARG_COUNT)? as usize;
        let args = (0..count)
            .map(|i| {
                data.get(ARGS + i * ARG_SIZE..ARGS + (i + 1) * ARG_SIZE)
                    .map(c_string)
            })
            .collect::<Option<Vec<_>>>()?;
        let comm_start = usize::try_from(COMM).ok()?;
        Some(Self {
            pid: u32_at(PID)?,
            ppid: u32_at(PPID)?,
            uid: u32_at(UID)?,
            ret: u32_at(RET)? as i32,
            comm: c_string(data.get(comm_start..comm_start + COMM_LEN)?),
            args,
            truncated: u32_at(TRUNCATED)? != 0,
        })
    }
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The kernel offsets the program needs.
struct TaskOffsets {
    real_parent: i32,
    tgid: i32,
}

impl TaskOffsets {
    fn from_btf(btf: &Btf) -> Result<Self, ExecsnoopError> {
        let task = btf
            .find_by_name(BtfKind::Struct, "task_struct")
            .ok_or(ExecsnoopError::MissingMember("struct task_struct"))?;
        Ok(Self {
            real_parent: member_offset(btf, task, "real_parent")
                .ok_or(ExecsnoopError::MissingMember("task_struct.real_parent"))?,
            tgid: member_offset(btf, task, "tgid")
                .ok_or(ExecsnoopError::MissingMember("task_struct.tgid"))?,
        })
    }

    /// `real_parent tgid` from a cache file; None if absent or unreadable (then BTF decides).
    fn read(path: &std::path::Path) -> Option<Self> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut numbers = text.split_whitespace().map(str::parse::<i32>);
        let (real_parent, tgid) = (numbers.next()?.ok()?, numbers.next()?.ok()?);
        (numbers.next().is_none() && real_parent > 0 && tgid > 0)
            .then_some(Self { real_parent, tgid })
    }

    /// Best effort: without a cache the next start parses the BTF again.
    fn write(&self, path: &std::path::Path) {
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        let stored = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                std::fs::write(&temporary, format!("{} {}\n", self.real_parent, self.tgid))
            })
            .and_then(|()| std::fs::rename(&temporary, path));
        if let Err(e) = stored {
            log::debug!("not caching execsnoop offsets in {}: {e}", path.display());
        }
    }
}

/// Byte offset of a member, looking into anonymous structs and unions as C does.
fn member_offset(btf: &Btf, id: u32, name: &str) -> Option<i32> {
    let composite = match &btf.type_by_id(btf.resolve(id)?)?.kind {
        TypeKind::Struct(c) | TypeKind::Union(c) => c,
        _ => return None,
    };
    composite.members.iter().find_map(|m| {
        let here = i32::try_from(m.bit_offset / 8).ok()?;
        match btf.name(m.name_off) {
            "" => member_offset(btf, m.type_id, name).map(|inner| here + inner),
            n if n == name => Some(here),
            _ => None,
        }
    })
}

/// The object for the running kernel. Its offsets come from /sys/kernel/btf/vmlinux once per
/// kernel build, then from the cache: parsing the whole BTF for two numbers would double
/// execsnoop's start-up time and memory (the loader parses it too).
pub fn object_for_running_kernel(options: &ExecsnoopOptions) -> Result<Vec<u8>, ExecsnoopError> {
    let identity = crate::compile::kernel_identity();
    let cache = crate::compile::cache_dir().join(format!(
        "execsnoop-offsets-{}",
        &blake3::hash(identity.as_bytes()).to_hex()[..32]
    ));
    let offsets = match TaskOffsets::read(&cache) {
        Some(offsets) => offsets,
        None => {
            let kernel = crate::kernel::btf::with_vmlinux_bytes(|bytes| {
                Btf::parse(bytes).map_err(|e| e.to_string())
            })
            .map_err(ExecsnoopError::KernelBtf)?;
            let offsets = TaskOffsets::from_btf(&kernel)?;
            offsets.write(&cache);
            offsets
        }
    };
    build_object(options, &offsets)
}

/// The object for the kernel `kernel` describes: maps `empty` (a zeroed record), `execs`
/// (records in flight), `events` (ring buffer).
pub fn object(options: &ExecsnoopOptions, kernel: &Btf) -> Result<Vec<u8>, ExecsnoopError> {
    check_options(options)?;
    build_object(options, &TaskOffsets::from_btf(kernel)?)
}

fn check_options(options: &ExecsnoopOptions) -> Result<(), ExecsnoopError> {
    if !(1..=64).contains(&options.max_args) {
        return Err(ExecsnoopError::BadMaxArgs(options.max_args));
    }
    if let Some(name) = &options.name {
        if name.is_empty() || name.len() >= COMM_LEN {
            return Err(ExecsnoopError::BadName(name.clone()));
        }
    }
    Ok(())
}

fn build_object(
    options: &ExecsnoopOptions,
    offsets: &TaskOffsets,
) -> Result<Vec<u8>, ExecsnoopError> {
    check_options(options)?;
    let record_size = (ARGS + options.max_args * ARG_SIZE) as u32;
    let map = |name: &str, kind: &str, key_size, value_size, max_entries| MapSpec {
        name: name.to_owned(),
        map_type: map_type_from_name(kind).unwrap_or(0),
        key_size,
        value_size,
        max_entries,
        flags: 0,
    };
    let mut spec = ObjectSpec::new("GPL");
    let mut execs = map("execs", "hash", 4, record_size, 10240);
    // Allocate entries as execs happen: preallocating 10240 records costs 26 MB and milliseconds.
    execs.flags = BPF_F_NO_PREALLOC;
    spec.maps = vec![
        map("empty", "array", 4, record_size, 1),
        execs,
        map("events", "ringbuf", 0, 0, 1 << 20),
    ];
    spec.programs = vec![
        ProgramSpec {
            section: "tracepoint/syscalls/sys_enter_execve".to_owned(),
            name: "execsnoop_enter".to_owned(),
            program: enter_program(options, offsets)?,
        },
        ProgramSpec {
            section: "tracepoint/syscalls/sys_exit_execve".to_owned(),
            name: "execsnoop_exit".to_owned(),
            program: exit_program(options, record_size)?,
        },
    ];
    Ok(spec.to_elf()?)
}

/// At execve entry: r6 = ctx, r7 = the record in `execs`, r8 = tgid then argv, r9 = uid.
fn enter_program(
    options: &ExecsnoopOptions,
    offsets: &TaskOffsets,
) -> Result<crate::asm::Program, AsmError> {
    let mut b = Builder::new();
    b.mov64_reg(R6, R1)
        .call_helper(Helper::GetCurrentUidGid)
        .mov32_reg(R9, R0);
    if let Some(uid) = options.uid {
        // A uid above i32::MAX compares through a register, as an immediate would sign-extend.
        b.mov32_imm(R1, uid as i32)
            .jmp_reg(JmpOp::Jne, R9, R1, "out");
    }
    b.call_helper(Helper::GetCurrentPidTgid)
        .stx(Size::W, R10, R0, -8) // key: the thread id
        .mov64_reg(R8, R0)
        .alu64_imm(AluOp::Rsh, R8, 32)
        // Start from a zeroed record: execs[tid] = empty[0].
        .st(Size::W, R10, -4, 0)
        .ld_map_fd(R1, "empty")
        .mov64_reg(R2, R10)
        .alu64_imm(AluOp::Add, R2, -4)
        .call_helper(Helper::MapLookupElem)
        .jmp_imm(JmpOp::Jeq, R0, 0, "out")
        .mov64_reg(R3, R0);
    execs_this_thread(&mut b)
        .mov64_imm(R4, 0)
        .call_helper(Helper::MapUpdateElem);
    execs_this_thread(&mut b)
        .call_helper(Helper::MapLookupElem)
        .jmp_imm(JmpOp::Jeq, R0, 0, "out")
        .mov64_reg(R7, R0)
        .stx(Size::W, R7, R8, PID)
        .stx(Size::W, R7, R9, UID)
        // ppid = current->real_parent->tgid, both read with probe_read_kernel.
        .call_helper(Helper::GetCurrentTask)
        .mov64_reg(R3, R0)
        .alu64_imm(AluOp::Add, R3, offsets.real_parent)
        .mov64_reg(R1, R10)
        .alu64_imm(AluOp::Add, R1, -16)
        .mov64_imm(R2, 8)
        .call_helper(Helper::ProbeReadKernel)
        .ldx(Size::DW, R3, R10, -16)
        .alu64_imm(AluOp::Add, R3, offsets.tgid)
        .mov64_reg(R1, R7)
        .alu64_imm(AluOp::Add, R1, i32::from(PPID))
        .mov64_imm(R2, 4)
        .call_helper(Helper::ProbeReadKernel)
        // Argument 0 is the filename execve was given.
        .ldx(Size::DW, R3, R6, CTX_FILENAME)
        .mov64_reg(R1, R7)
        .alu64_imm(AluOp::Add, R1, ARGS as i32)
        .mov64_imm(R2, ARG_SIZE as i32)
        .call_helper(Helper::ProbeReadUserStr)
        .st(Size::W, R7, ARG_COUNT, 1)
        .ldx(Size::DW, R8, R6, CTX_ARGV);
    // argv[1..max_args], unrolled: every slot is at a constant offset the verifier can check.
    for i in 1..options.max_args {
        read_argv_pointer(&mut b, i)
            .mov64_reg(R1, R7)
            .alu64_imm(AluOp::Add, R1, (ARGS + i * ARG_SIZE) as i32)
            .mov64_imm(R2, ARG_SIZE as i32)
            .call_helper(Helper::ProbeReadUserStr)
            .jmp_imm(JmpOp::Jslt, R0, 0, "out")
            .st(Size::W, R7, ARG_COUNT, i as i32 + 1);
    }
    // One more pointer tells whether arguments were left out.
    read_argv_pointer(&mut b, options.max_args).st(Size::W, R7, TRUNCATED, 1);
    b.label("out").mov64_imm(R0, 0).exit();
    b.finish()
}

/// r1 = the `execs` map, r2 = &key (this thread's id, at r10-8): the first arguments of every
/// helper call on this thread's record.
fn execs_this_thread(b: &mut Builder) -> &mut Builder {
    b.ld_map_fd(R1, "execs")
        .mov64_reg(R2, R10)
        .alu64_imm(AluOp::Add, R2, -8)
}

/// r3 = argv[i] (read from user memory), or jump to `out` at the end of argv.
fn read_argv_pointer(b: &mut Builder, i: usize) -> &mut Builder {
    b.mov64_reg(R1, R10)
        .alu64_imm(AluOp::Add, R1, -16)
        .mov64_imm(R2, 8)
        .mov64_reg(R3, R8)
        .alu64_imm(AluOp::Add, R3, (i * 8) as i32)
        .call_helper(Helper::ProbeReadUser)
        .jmp_imm(JmpOp::Jne, R0, 0, "out")
        .ldx(Size::DW, R3, R10, -16)
        .jmp_imm(JmpOp::Jeq, R3, 0, "out")
}

/// At execve exit: r6 = ctx, r7 = the record. Sends it (if the name matches) and forgets it.
fn exit_program(
    options: &ExecsnoopOptions,
    record_size: u32,
) -> Result<crate::asm::Program, AsmError> {
    let mut b = Builder::new();
    b.mov64_reg(R6, R1)
        .call_helper(Helper::GetCurrentPidTgid)
        .stx(Size::W, R10, R0, -8);
    execs_this_thread(&mut b)
        .call_helper(Helper::MapLookupElem)
        .jmp_imm(JmpOp::Jeq, R0, 0, "out")
        .mov64_reg(R7, R0)
        .ldx(Size::DW, R1, R6, CTX_RET)
        .stx(Size::W, R7, R1, RET)
        .mov64_reg(R1, R7)
        .alu64_imm(AluOp::Add, R1, i32::from(COMM))
        .mov64_imm(R2, COMM_LEN as i32)
        .call_helper(Helper::GetCurrentComm);
    if let Some(name) = &options.name {
        // Exact comm match: every byte, then the terminating NUL.
        for (i, byte) in name.bytes().chain(std::iter::once(0)).enumerate() {
            b.ldx(Size::B, R1, R7, COMM + i as i16).jmp_imm(
                JmpOp::Jne,
                R1,
                i32::from(byte),
                "forget",
            );
        }
    }
    b.ld_map_fd(R1, "events")
        .mov64_reg(R2, R7)
        .mov64_imm(R3, record_size as i32)
        .mov64_imm(R4, 0)
        .call_helper(Helper::RingbufOutput)
        .label("forget");
    execs_this_thread(&mut b)
        .call_helper(Helper::MapDeleteElem)
        .label("out")
        .mov64_imm(R0, 0)
        .exit();
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(args: &[&str], truncated: bool) -> Vec<u8> {
        let mut data = vec![0u8; ARGS + DEFAULT_MAX_ARGS * ARG_SIZE];
        data[0..4].copy_from_slice(&42u32.to_le_bytes());
        data[4..8].copy_from_slice(&7u32.to_le_bytes());
        data[8..12].copy_from_slice(&1000u32.to_le_bytes());
        data[12..16].copy_from_slice(&(-2i32).to_le_bytes());
        data[16..20].copy_from_slice(&(args.len() as u32).to_le_bytes());
        data[20..24].copy_from_slice(&u32::from(truncated).to_le_bytes());
        data[24..27].copy_from_slice(b"cat");
        for (i, arg) in args.iter().enumerate() {
            data[ARGS + i * ARG_SIZE..][..arg.len()].copy_from_slice(arg.as_bytes());
        }
        data
    }

    #[test]
    fn decodes_records() {
        let event = ExecEvent::decode(&record(&["/bin/cat", "-n", "file"], true)).expect("decodes");
        assert_eq!(
            event,
            ExecEvent {
                pid: 42,
                ppid: 7,
                uid: 1000,
                ret: -2,
                comm: "cat".into(),
                args: vec!["/bin/cat".into(), "-n".into(), "file".into()],
                truncated: true,
            }
        );
    }

    #[test]
    fn short_records_are_rejected_not_misread() {
        let data = record(&["/bin/cat", "-n"], false);
        assert!(ExecEvent::decode(&data[..ARGS + ARG_SIZE]).is_none());
        assert!(ExecEvent::decode(&data[..10]).is_none());
    }

    #[test]
    fn bad_options_are_errors() {
        let options = ExecsnoopOptions {
            max_args: 0,
            ..ExecsnoopOptions::default()
        };
        assert!(matches!(
            object(&options, &minimal_btf()),
            Err(ExecsnoopError::BadMaxArgs(0))
        ));
        let options = ExecsnoopOptions {
            name: Some("a-name-longer-than-15".into()),
            ..ExecsnoopOptions::default()
        };
        assert!(matches!(
            object(&options, &minimal_btf()),
            Err(ExecsnoopError::BadName(_))
        ));
        assert!(matches!(
            object(&ExecsnoopOptions::default(), &minimal_btf()),
            Err(ExecsnoopError::MissingMember("struct task_struct"))
        ));
    }

    /// A BTF blob with one int type and no task_struct.
    fn minimal_btf() -> Btf {
        let mut blob = Vec::new();
        let types: [u32; 4] = [1, 0x0100_0000, 4, 32]; // INT "int", size 4, 32 bits
        let strings = b"\0int\0";
        blob.extend_from_slice(&0xeb9fu16.to_le_bytes());
        blob.extend_from_slice(&[1, 0]);
        for field in [24u32, 0, 16, 16, strings.len() as u32] {
            blob.extend_from_slice(&field.to_le_bytes());
        }
        for word in types {
            blob.extend_from_slice(&word.to_le_bytes());
        }
        blob.extend_from_slice(strings);
        Btf::parse(&blob).expect("minimal BTF parses")
    }
}
