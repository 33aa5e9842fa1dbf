//! The types of the language and how their values are laid out in memory: the generated
//! programs write values with these layouts (on the stack, in map keys and values, in output
//! records) and the runtime reads them back with the same layouts.

use std::fmt;
use std::rc::Rc;

/// How a stack prints (bpftrace's stack modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StackMode {
    /// `name+offset` a line, indented.
    #[default]
    Bpftrace,
    /// perf's `address name+offset (module)`, indented.
    Perf,
    /// Addresses in hex, one a line.
    Raw,
    /// User frames as the mapped file's build id and the offset in that file.
    BuildId,
}

impl StackMode {
    const NAMES: [(&'static str, StackMode); 4] = [
        ("bpftrace", StackMode::Bpftrace),
        ("perf", StackMode::Perf),
        ("raw", StackMode::Raw),
        ("build_id", StackMode::BuildId),
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, mode)| *mode)
    }

    /// The name `parse` takes (and `config().stack_mode` shows).
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, mode)| *mode == self)
            .map_or("bpftrace", |(n, _)| n)
    }
}

/// `kstack(mode, frames)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackSpec {
    pub mode: StackMode,
    /// At most this many frames print (the innermost).
    pub frames: u32,
}

impl fmt::Display for StackSpec {
    /// As bpftrace names the type: `kstack`, `kstack(perf, 3)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mode {
            StackMode::Bpftrace => Ok(()),
            StackMode::Perf => write!(f, "(perf, {})", self.frames),
            StackMode::Raw => write!(f, "(raw, {})", self.frames),
            StackMode::BuildId => write!(f, "(build_id, {})", self.frames),
        }
    }
}

/// The last byte of a `str()` buffer the string filled (instead of its NUL): the string may
/// have been cut, and prints with the truncation trailer (`..`), as bpftrace's do.
pub const TRUNCATED: u8 = 0xff;

/// A value's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    /// No value (`printf(…)` as an expression).
    None,
    Int(IntType),
    Bool,
    /// A NUL-padded string of this many bytes (the NUL included).
    Str(u32),
    /// `buf(p, n)`: a length byte, then the data.
    Buffer(u32),
    Tuple(Rc<Layout>),
    /// A C struct or union (from the script or BTF); `fields` in `Layout`.
    Record(Rc<Record>),
    Array(Box<Type>, u32),
    /// A pointer; what it points to is known when it came from BTF or a cast.
    Pointer(Box<Type>),
    /// An integer that prints as the name of a value of this enum.
    Enum(Rc<EnumType>),
    /// A kernel address that prints as its symbol (`ksym`, `func` in kernel probes).
    Ksym,
    /// A user address and the pid it belongs to (`usym`, `func` in uprobes).
    Usym,
    /// A kernel stack id, printed as `spec` says.
    Kstack(StackSpec),
    /// A user stack id and pid, printed as `spec` says.
    Ustack(StackSpec),
    /// `ntop`: an address family and 16 address bytes.
    Inet,
    /// `macaddr`: 6 bytes.
    MacAddr,
    /// `strftime(FMT, ns)`: the format's index and a time in nanoseconds.
    Timestamp,
    /// `cgroup_path(id)`: a cgroup id printed as its path.
    CgroupPath,
    /// `username`: a uid printed as the user's name.
    Username,
    /// `strerror(n)`: an errno printed as its message.
    Errno,
    /// `kaddr`, `uaddr`: a plain u64 that came from a symbol.
    Addr,
    /// A C `float`/`double` of this many bytes: it has a place in records but no value in
    /// the language (bpftrace's none type), so it prints as `null`.
    Float(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IntType {
    pub bits: u8,
    pub signed: bool,
}

impl IntType {
    pub const U64: IntType = IntType {
        bits: 64,
        signed: false,
    };
    pub const I64: IntType = IntType {
        bits: 64,
        signed: true,
    };
    pub const U32: IntType = IntType {
        bits: 32,
        signed: false,
    };

    pub fn bytes(self) -> u32 {
        u32::from(self.bits / 8)
    }
}

/// Fields placed with C alignment rules: what tuples, records and output records share.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    pub fields: Vec<Field>,
    pub size: u32,
    pub align: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub ty: Type,
    pub offset: u32,
    /// For bit fields: where the bits are in the word at `offset`.
    pub bits: Option<BitField>,
}

/// A bit field's place in the word at its offset: `shift` bits in, `width` bits wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitField {
    pub shift: u8,
    pub width: u8,
}

impl BitField {
    /// Bytes read at the field's offset: the smallest of 1, 2, 4 or 8 that holds the bits.
    pub fn word_bytes(self) -> u32 {
        (u32::from(self.shift) + u32::from(self.width))
            .div_ceil(8)
            .next_power_of_two()
            .clamp(1, 8)
    }

    /// The field's value from its word, sign-extended when the field is signed.
    pub fn extract(self, word: u64, signed: bool) -> u64 {
        let top = 64 - u32::from(self.shift) - u32::from(self.width);
        let low = 64 - u32::from(self.width);
        let up = word.wrapping_shl(top);
        if signed {
            (up as i64).wrapping_shr(low) as u64
        } else {
            up.wrapping_shr(low)
        }
    }
}

impl Layout {
    /// Lays out unnamed elements (a tuple, an output record) in order, each aligned.
    pub fn of(types: impl IntoIterator<Item = Type>) -> Layout {
        Self::named(types.into_iter().map(|t| (String::new(), t)))
    }

    pub fn named(fields: impl IntoIterator<Item = (String, Type)>) -> Layout {
        let mut layout = Layout {
            fields: Vec::new(),
            size: 0,
            align: 1,
        };
        for (name, ty) in fields {
            let align = ty.align();
            let offset = layout.size.next_multiple_of(align);
            layout.size = offset + ty.size();
            layout.align = layout.align.max(align);
            layout.fields.push(Field {
                name,
                ty,
                offset,
                bits: None,
            });
        }
        layout.size = layout.size.next_multiple_of(layout.align);
        layout
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A C struct or union.
#[derive(Debug, Clone, Eq)]
pub struct Record {
    /// `struct task_struct`, `union u`.
    pub name: String,
    pub layout: Layout,
    /// Where a type of the kernel's BTF (or a probed binary's DWARF) comes from. Behind a
    /// pointer its fields are left out (`layout.fields` empty, size and alignment known) until
    /// a field is accessed: `task_struct` reaches every type.
    pub btf_id: Option<BtfId>,
}

/// A type in one of the type graphs a compile reads: source 0 is the kernel's BTF, the others
/// the DWARF of probed binaries, in the order first needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BtfId {
    pub source: u32,
    pub id: u32,
}

impl Record {
    /// Fields not converted yet: a kernel (or DWARF) struct seen only through a pointer.
    pub fn is_opaque_kernel_type(&self) -> bool {
        self.btf_id.is_some() && self.layout.fields.is_empty() && self.layout.size > 0
    }
}

/// A kernel type is itself whether or not its fields were converted yet.
impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        match (self.btf_id, other.btf_id) {
            (Some(a), Some(b)) => a == b,
            _ => {
                self.name == other.name
                    && self.layout == other.layout
                    && self.btf_id == other.btf_id
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumType {
    pub name: String,
    pub bits: u8,
    pub variants: Vec<(String, i64)>,
}

impl EnumType {
    pub fn name_of(&self, value: i64) -> Option<&str> {
        self.variants
            .iter()
            .find(|(_, v)| *v == value)
            .map(|(n, _)| n.as_str())
    }
}

impl Type {
    pub const U64: Type = Type::Int(IntType::U64);
    pub const I64: Type = Type::Int(IntType::I64);
    pub const U32: Type = Type::Int(IntType::U32);

    pub fn int(bits: u8, signed: bool) -> Type {
        Type::Int(IntType { bits, signed })
    }

    /// Bytes the value takes in memory.
    pub fn size(&self) -> u32 {
        match self {
            Type::None => 0,
            Type::Int(int) => int.bytes(),
            Type::Enum(e) => u32::from(e.bits / 8),
            Type::Bool => 1,
            Type::Str(n) => *n,
            Type::Buffer(n) => 1 + n,
            Type::Tuple(layout) => layout.size,
            Type::Record(record) => record.layout.size,
            Type::Array(element, n) => element.size() * n,
            Type::Pointer(_)
            | Type::Ksym
            | Type::Kstack(_)
            | Type::Addr
            | Type::CgroupPath
            | Type::Username
            | Type::Errno => 8,
            Type::Usym | Type::Ustack(_) | Type::Timestamp => 16,
            Type::Inet => 24,
            Type::MacAddr => 6,
            Type::Float(n) => *n,
        }
    }

    pub fn align(&self) -> u32 {
        match self {
            Type::None | Type::Bool | Type::Str(_) | Type::Buffer(_) | Type::MacAddr => 1,
            Type::Int(int) => int.bytes(),
            Type::Enum(e) => u32::from(e.bits / 8),
            Type::Tuple(layout) => layout.align,
            Type::Record(record) => record.layout.align,
            Type::Array(element, _) => element.align(),
            Type::Float(n) => *n,
            _ => 8,
        }
    }

    /// Held in a register rather than in memory.
    pub fn is_scalar(&self) -> bool {
        matches!(
            self,
            Type::Int(_)
                | Type::Bool
                | Type::Pointer(_)
                | Type::Enum(_)
                | Type::Ksym
                | Type::Kstack(_)
                | Type::Addr
                | Type::CgroupPath
                | Type::Username
                | Type::Errno
        )
    }

    pub fn is_integer(&self) -> bool {
        matches!(self, Type::Int(_) | Type::Bool | Type::Enum(_))
    }

    pub fn is_signed(&self) -> bool {
        match self {
            Type::Int(int) => int.signed,
            Type::Enum(_) => true,
            _ => false,
        }
    }

    pub fn as_int(&self) -> Option<IntType> {
        match self {
            Type::Int(int) => Some(*int),
            Type::Bool => Some(IntType {
                bits: 8,
                signed: false,
            }),
            Type::Enum(e) => Some(IntType {
                bits: e.bits,
                signed: true,
            }),
            Type::Pointer(_)
            | Type::Ksym
            | Type::Addr
            | Type::Kstack(_)
            | Type::CgroupPath
            | Type::Username
            | Type::Errno => Some(IntType::U64),
            _ => None,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::None => f.write_str("none"),
            Type::Int(IntType { bits, signed }) => {
                write!(f, "{}int{bits}", if *signed { "" } else { "u" })
            }
            Type::Bool => f.write_str("bool"),
            Type::Str(n) => write!(f, "string[{n}]"),
            Type::Buffer(n) => write!(f, "buffer[{n}]"),
            Type::Tuple(layout) => {
                f.write_str("(")?;
                for (i, field) in layout.fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}", field.ty)?;
                }
                f.write_str(")")
            }
            Type::Record(record) => f.write_str(&record.name),
            Type::Array(element, n) => write!(f, "{element}[{n}]"),
            Type::Pointer(to) => write!(f, "{to} *"),
            Type::Enum(e) => write!(f, "enum {}", e.name),
            Type::Ksym => f.write_str("ksym_t"),
            Type::Usym => f.write_str("usym_t"),
            Type::Kstack(spec) => write!(f, "kstack{spec}"),
            Type::Ustack(spec) => write!(f, "ustack{spec}"),
            Type::Inet => f.write_str("inet"),
            Type::MacAddr => f.write_str("mac_address"),
            Type::Timestamp => f.write_str("timestamp"),
            Type::CgroupPath => f.write_str("cgroup_path_t"),
            Type::Username => f.write_str("username"),
            Type::Errno => f.write_str("strerror_t"),
            Type::Addr => f.write_str("uint64"),
            Type::Float(4) => f.write_str("float"),
            Type::Float(_) => f.write_str("double"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_align_like_c() {
        let t = Layout::of([Type::int(8, true), Type::I64, Type::int(8, true), Type::I64]);
        assert_eq!(t.size, 32);
        let t = Layout::of([Type::int(8, true), Type::int(16, true), Type::int(32, true)]);
        assert_eq!(t.size, 8);
        let t = Layout::of([Type::int(32, true), Type::int(16, true), Type::int(8, true)]);
        assert_eq!(t.size, 8);
        assert_eq!(t.fields[2].offset, 6);
    }

    #[test]
    fn bit_fields_read_the_smallest_word_and_extend_their_sign() {
        let field = BitField {
            shift: 12,
            width: 8,
        };
        assert_eq!(field.word_bytes(), 4);
        assert_eq!(field.extract(0xab << 12 | 0xfff, false), 0xab);
        assert_eq!(field.extract(0x80 << 12, true) as i64, -128);
        assert_eq!(
            BitField {
                shift: 0,
                width: 64
            }
            .extract(u64::MAX, false),
            u64::MAX
        );
        assert_eq!(BitField { shift: 7, width: 1 }.word_bytes(), 1);
    }
}
