//! BTF, the kernel's type information: a parser into a typed model with
//! lookups, a C header writer (the `vmlinux.h` that BPF programs include) and
//! a raw one-type-per-line listing.
//!
//! The format is described in the kernel's `Documentation/bpf/btf.rst`; the
//! header writer follows the ordering rules of libbpf's `btf_dump.c` so that
//! its output matches `bpftool btf dump file … format c`.

mod c_writer;
mod raw;
pub(crate) mod scan;
mod types;

use std::path::PathBuf;

pub use c_writer::{write_c_declaration, write_c_header};
pub use raw::write_raw;
pub use types::{
    ArrayType, Btf, BtfKind, BtfType, Composite, DatasecVar, EnumType, EnumValue, FuncParam,
    FuncProto, IntType, Linkage, Member, TypeId, TypeKind,
};

/// Everything that can go wrong while reading BTF or writing it out.
#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    #[error("not BTF data: magic is {found:#06x}, expected 0xeb9f")]
    BadMagic { found: u16 },
    #[error("unsupported BTF version {0} (only version 1 exists)")]
    UnsupportedVersion(u8),
    #[error("BTF is truncated: the {what} needs bytes {start}..{end} but the blob has {len}")]
    Truncated {
        what: &'static str,
        start: usize,
        end: usize,
        len: usize,
    },
    #[error("BTF type [{id}] is cut off at the end of the type section")]
    TruncatedType { id: TypeId },
    #[error("BTF type [{id}] has unknown kind {kind}")]
    UnknownKind { id: TypeId, kind: u32 },
    #[error("BTF type [{id}] refers to type [{target}], but the last type id is {last}")]
    BadTypeId {
        id: TypeId,
        target: TypeId,
        last: TypeId,
    },
    #[error("BTF type [{id}] has name offset {offset}, which is not the start of a string")]
    BadNameOffset { id: TypeId, offset: u32 },
    #[error("BTF string section is malformed: {0}")]
    BadStrings(&'static str),
    #[error(
        "BTF type [{id}] is part of a reference loop or a chain deeper than {max_depth} types"
    )]
    ReferenceLoop { id: TypeId, max_depth: u32 },
    #[error("BTF type [{id}] contains itself by value, which C cannot express")]
    TypeCycle { id: TypeId },
    #[error("split BTF has a different byte order than its base")]
    ByteOrderMismatch,
    #[error("the ELF file has no .BTF section")]
    NoBtfSection,
    #[error("cannot parse the ELF file: {0}")]
    Elf(#[from] object::Error),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write BTF output: {0}")]
    Write(#[from] std::io::Error),
}

/// The BTF id of a kernel function by name (what a kfunc call names), found by a name-only walk
/// of /sys/kernel/btf/vmlinux rather than a full parse.
pub fn kernel_function_id(name: &str) -> Result<Option<u32>, BtfError> {
    scan::vmlinux_type_id(scan::KIND_FUNC, name)
}
