//! Bytes read through BTF: map keys and values, and the records programs send through ring and
//! perf buffers (ints in decimal, char arrays as strings, enums by name, structs as
//! `{field=value …}` or JSON objects); and KEY/VALUE arguments parsed from text.
//!
//! Decoding never fails: bytes the BTF does not explain (a type of the wrong size, nesting
//! deeper than any real map type) fall back to hex, so a damaged or surprising BTF still dumps.

use std::fmt;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::btf::{Btf, BtfKind, TypeId, TypeKind};

/// Deeper nesting than this is surely not a real map type; it prints as hex.
const MAX_DEPTH: u32 = 32;

/// A decoded key or value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Signed(i128),
    Unsigned(u128),
    Bool(bool),
    Float(f64),
    /// A char array, up to its first NUL.
    Str(String),
    /// An enumerator's name.
    Enum(String),
    Pointer(u64),
    Array(Vec<Value>),
    /// Struct or union members in declaration order (anonymous members keep an empty name).
    Struct(Vec<(String, Value)>),
    /// Bytes without a type.
    Hex(Vec<u8>),
}

/// Decodes `bytes` as BTF type `id`, or as hex when there is no type.
pub fn decode(btf: Option<&Btf>, id: TypeId, bytes: &[u8]) -> Value {
    match btf {
        Some(btf) if id != 0 => decode_at(btf, id, bytes, 0),
        _ => Value::Hex(bytes.to_vec()),
    }
}

fn decode_at(btf: &Btf, id: TypeId, bytes: &[u8], depth: u32) -> Value {
    let hex = || Value::Hex(bytes.to_vec());
    if depth > MAX_DEPTH {
        return hex();
    }
    let Some(id) = btf.resolve(id) else {
        return hex();
    };
    let Some(ty) = btf.type_by_id(id) else {
        return hex();
    };
    match &ty.kind {
        TypeKind::Int(int) => {
            let size = int.size as usize;
            if bytes.len() < size || size > 16 {
                return hex();
            }
            let raw = read_uint(&bytes[..size]);
            let bits = if int.bits == 0 {
                size as u32 * 8
            } else {
                u32::from(int.bits)
            };
            let raw = raw >> int.bit_offset;
            int_value(raw, bits, int.is_signed(), int.is_bool())
        }
        TypeKind::Enum(e) | TypeKind::Enum64(e) => {
            let size = e.size as usize;
            if bytes.len() < size || size > 8 {
                return hex();
            }
            let raw = read_uint(&bytes[..size]) as u64;
            match e.values.iter().find(|v| v.value == raw) {
                Some(v) => Value::Enum(btf.name(v.name_off).to_owned()),
                None => int_value(u128::from(raw), size as u32 * 8, e.signed, false),
            }
        }
        TypeKind::Float { size } => match *size {
            4 if bytes.len() >= 4 => Value::Float(f64::from(f32::from_ne_bytes([
                bytes[0], bytes[1], bytes[2], bytes[3],
            ]))),
            8 if bytes.len() >= 8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&bytes[..8]);
                Value::Float(f64::from_ne_bytes(b))
            }
            _ => hex(),
        },
        TypeKind::Ptr(_) => {
            let size = btf.pointer_size() as usize;
            if bytes.len() < size || size > 8 {
                return hex();
            }
            Value::Pointer(read_uint(&bytes[..size]) as u64)
        }
        TypeKind::Array(array) => {
            let Some(elem_size) = btf.size_of(array.elem).map(|s| s as usize) else {
                return hex();
            };
            let len = array.len as usize;
            if elem_size == 0 || elem_size.checked_mul(len).is_none_or(|n| n > bytes.len()) {
                return hex();
            }
            if elem_size == 1 && is_char(btf, array.elem) {
                let text = &bytes[..len];
                let end = text.iter().position(|&b| b == 0).unwrap_or(len);
                return Value::Str(String::from_utf8_lossy(&text[..end]).into_owned());
            }
            Value::Array(
                bytes[..elem_size * len]
                    .chunks(elem_size)
                    .map(|chunk| decode_at(btf, array.elem, chunk, depth + 1))
                    .collect(),
            )
        }
        TypeKind::Struct(c) | TypeKind::Union(c) => {
            if bytes.len() < c.size as usize {
                return hex();
            }
            let members = c
                .members
                .iter()
                .map(|m| {
                    let name = btf.name(m.name_off).to_owned();
                    let value = if m.bitfield_size > 0 {
                        bitfield(btf, m.type_id, bytes, m.bit_offset, m.bitfield_size)
                    } else {
                        let start = (m.bit_offset / 8) as usize;
                        let size = btf.size_of(m.type_id).unwrap_or(0) as usize;
                        match bytes.get(start..start.saturating_add(size)) {
                            Some(slice) => decode_at(btf, m.type_id, slice, depth + 1),
                            None => Value::Hex(Vec::new()),
                        }
                    };
                    (name, value)
                })
                .collect();
            Value::Struct(members)
        }
        _ => hex(),
    }
}

/// A bitfield member: `size` bits starting `bit_offset` bits into the struct.
fn bitfield(btf: &Btf, type_id: TypeId, bytes: &[u8], bit_offset: u32, size: u8) -> Value {
    let start = (bit_offset / 8) as usize;
    let shift = bit_offset % 8;
    let needed = ((shift + u32::from(size)).div_ceil(8)) as usize;
    let Some(slice) = bytes.get(start..start + needed.min(16)) else {
        return Value::Hex(Vec::new());
    };
    let raw = read_uint(slice) >> shift;
    let signed = btf
        .resolve(type_id)
        .and_then(|id| btf.type_by_id(id))
        .is_some_and(|t| matches!(&t.kind, TypeKind::Int(i) if i.is_signed()));
    int_value(raw, u32::from(size), signed, false)
}

fn is_char(btf: &Btf, id: TypeId) -> bool {
    let Some(resolved) = btf.resolve(id) else {
        return false;
    };
    match btf.type_by_id(resolved).map(|t| &t.kind) {
        Some(TypeKind::Int(int)) => int.is_char() || btf.type_name(resolved).contains("char"),
        _ => false,
    }
}

/// Little-endian bytes (the hosts bpfhook runs on) as an integer.
fn read_uint(bytes: &[u8]) -> u128 {
    let mut buf = [0u8; 16];
    let n = bytes.len().min(16);
    buf[..n].copy_from_slice(&bytes[..n]);
    u128::from_le_bytes(buf)
}

/// Keeps the low `bits` bits, sign-extending when signed.
fn int_value(raw: u128, bits: u32, signed: bool, boolean: bool) -> Value {
    let bits = bits.clamp(1, 128);
    let masked = if bits == 128 {
        raw
    } else {
        raw & ((1u128 << bits) - 1)
    };
    if boolean {
        Value::Bool(masked != 0)
    } else if signed {
        let shift = 128 - bits;
        Value::Signed(((masked << shift) as i128) >> shift)
    } else {
        Value::Unsigned(masked)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Signed(n) => write!(f, "{n}"),
            Value::Unsigned(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Enum(name) => f.write_str(name),
            Value::Pointer(p) => write!(f, "{p:#x}"),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Struct(members) => {
                f.write_str("{")?;
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    if name.is_empty() {
                        write!(f, "{value}")?;
                    } else {
                        write!(f, "{name}={value}")?;
                    }
                }
                f.write_str("}")
            }
            Value::Hex(bytes) => f.write_str(&crate::maps::hex(bytes)),
        }
    }
}

/// JSON: numbers (as strings beyond 64 bits), strings, objects in member order, and untyped
/// bytes as bpftool's array of `"0x.."` strings.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Signed(n) => match i64::try_from(*n) {
                Ok(n) => s.serialize_i64(n),
                Err(_) => s.serialize_str(&n.to_string()),
            },
            Value::Unsigned(n) => match u64::try_from(*n) {
                Ok(n) => s.serialize_u64(n),
                Err(_) => s.serialize_str(&n.to_string()),
            },
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Float(x) => s.serialize_f64(*x),
            Value::Str(text) | Value::Enum(text) => s.serialize_str(text),
            Value::Pointer(p) => s.serialize_str(&format!("{p:#x}")),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Struct(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                for (name, value) in members {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
            Value::Hex(bytes) => {
                let mut seq = s.serialize_seq(Some(bytes.len()))?;
                for b in bytes {
                    seq.serialize_element(&format!("{b:#04x}"))?;
                }
                seq.end()
            }
        }
    }
}

/// Why a KEY/VALUE argument could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The text is not hex bytes (nor a decimal number where one is allowed).
    Malformed(String),
    /// Well-formed, but the wrong number of bytes.
    Size { got: usize },
}

/// Parses a KEY or VALUE argument of `size` bytes: hex bytes (`01 00 00 00`, `0x01 0x00`) or one
/// hex string (`0x01000000`, bytes in the order written); or, when `btf`/`id` say the type is an
/// integer or enum, a decimal number (`-5`, `42`) in the host's byte order.
pub fn parse_input(
    text: &str,
    size: usize,
    btf: Option<&Btf>,
    id: TypeId,
) -> Result<Vec<u8>, ParseError> {
    let text = text.trim();
    if let Some(signed) = integer_type(btf, id, size) {
        if is_decimal(text) {
            return parse_decimal(text, size, signed);
        }
    }
    let bytes = parse_hex(text)?;
    if bytes.len() != size {
        return Err(ParseError::Size { got: bytes.len() });
    }
    Ok(bytes)
}

/// Whether the type is an integer or enum of exactly `size` bytes, and if so whether signed.
pub fn integer_type(btf: Option<&Btf>, id: TypeId, size: usize) -> Option<bool> {
    let btf = btf?;
    if id == 0 {
        return None;
    }
    let ty = btf.type_by_id(btf.resolve(id)?)?;
    match &ty.kind {
        TypeKind::Int(int) if int.size as usize == size && !int.is_bool() => Some(int.is_signed()),
        TypeKind::Enum(e) | TypeKind::Enum64(e) if e.size as usize == size => Some(e.signed),
        _ => None,
    }
}

fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn parse_decimal(text: &str, size: usize, signed: bool) -> Result<Vec<u8>, ParseError> {
    let bits = size as u32 * 8;
    let out_of_range = || ParseError::Malformed(format!("{text} does not fit in {size} bytes"));
    let raw: u128 = if let Some(magnitude) = text.strip_prefix('-') {
        if !signed {
            return Err(ParseError::Malformed(format!(
                "{text} is negative, but the type is unsigned"
            )));
        }
        let n: i128 = magnitude
            .parse::<i128>()
            .map(|m| -m)
            .map_err(|_| out_of_range())?;
        let min = if bits >= 128 {
            i128::MIN
        } else {
            -(1i128 << (bits - 1))
        };
        if n < min {
            return Err(out_of_range());
        }
        n as u128
    } else {
        let n: u128 = text.parse().map_err(|_| out_of_range())?;
        let limit_bits = if signed { bits - 1 } else { bits };
        if limit_bits < 128 && n >> limit_bits != 0 {
            return Err(out_of_range());
        }
        n
    };
    Ok(raw.to_le_bytes()[..size.min(16)].to_vec())
}

fn parse_hex(text: &str) -> Result<Vec<u8>, ParseError> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    if tokens.is_empty() {
        return Err(ParseError::Malformed("it is empty".to_owned()));
    }
    let mut out = Vec::new();
    for token in &tokens {
        let digits = token
            .strip_prefix("0x")
            .or_else(|| token.strip_prefix("0X"))
            .unwrap_or(token);
        let long = tokens.len() == 1 && digits.len() != token.len();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ParseError::Malformed(format!("`{token}` is not hex")));
        }
        if long {
            // One `0x…` string: two digits per byte, in the order written.
            if digits.len() % 2 != 0 {
                return Err(ParseError::Malformed(format!(
                    "`{token}` has an odd number of hex digits"
                )));
            }
            for pair in digits.as_bytes().chunks(2) {
                out.push(hex_byte(pair)?);
            }
        } else if digits.len() <= 2 {
            out.push(hex_byte(digits.as_bytes())?);
        } else {
            return Err(ParseError::Malformed(format!(
                "`{token}` is more than one byte; separate bytes with spaces or write one 0x… string"
            )));
        }
    }
    Ok(out)
}

fn hex_byte(digits: &[u8]) -> Result<u8, ParseError> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| u8::from_str_radix(d, 16).ok())
        .ok_or_else(|| ParseError::Malformed("bad hex digits".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_forms() {
        assert_eq!(parse_input("01 00 00 00", 4, None, 0), Ok(vec![1, 0, 0, 0]));
        assert_eq!(parse_input("0x01000000", 4, None, 0), Ok(vec![1, 0, 0, 0]));
        assert_eq!(
            parse_input("0x1 0x0 0 ff", 4, None, 0),
            Ok(vec![1, 0, 0, 255])
        );
        assert_eq!(
            parse_input("01 00", 4, None, 0),
            Err(ParseError::Size { got: 2 })
        );
        assert!(matches!(
            parse_input("zz", 1, None, 0),
            Err(ParseError::Malformed(_))
        ));
        assert!(matches!(
            parse_input("0x123", 2, None, 0),
            Err(ParseError::Malformed(_))
        ));
        assert!(matches!(
            parse_input("", 1, None, 0),
            Err(ParseError::Malformed(_))
        ));
        assert!(matches!(
            parse_input("123 4", 2, None, 0),
            Err(ParseError::Malformed(_))
        ));
    }

    #[test]
    fn decimals_need_an_integer_type() {
        assert_eq!(parse_decimal("258", 4, false), Ok(vec![2, 1, 0, 0]));
        assert_eq!(parse_decimal("-1", 2, true), Ok(vec![0xff, 0xff]));
        assert!(parse_decimal("256", 1, false).is_err());
        assert!(parse_decimal("128", 1, true).is_err());
        assert_eq!(parse_decimal("-128", 1, true), Ok(vec![0x80]));
        assert!(parse_decimal("-1", 4, false).is_err());
        // Without BTF, "10" is one hex byte.
        assert_eq!(parse_input("10", 1, None, 0), Ok(vec![0x10]));
    }

    #[test]
    fn values_print_and_serialize() {
        let v = Value::Struct(vec![
            ("n".into(), Value::Unsigned(7)),
            ("comm".into(), Value::Str("bash".into())),
            ("d".into(), Value::Signed(-3)),
            ("raw".into(), Value::Hex(vec![0xde, 0xad])),
        ]);
        assert_eq!(v.to_string(), r#"{n=7 comm="bash" d=-3 raw=de ad}"#);
        assert_eq!(
            serde_json::to_string(&v).unwrap_or_default(),
            r#"{"n":7,"comm":"bash","d":-3,"raw":["0xde","0xad"]}"#
        );
    }

    #[test]
    fn ints_sign_extend_and_mask() {
        assert_eq!(int_value(0xff, 8, true, false), Value::Signed(-1));
        assert_eq!(int_value(0x1ff, 8, false, false), Value::Unsigned(0xff));
        assert_eq!(int_value(2, 8, false, true), Value::Bool(true));
    }
}

/// How records from ring and perf buffers are decoded: as one type of the object, or as hex.
#[derive(Debug)]
pub struct RecordDecoder {
    record: Option<RecordType>,
}

/// The type records are decoded as, with the types it was found among.
#[derive(Debug)]
pub struct RecordType {
    types: Btf,
    id: TypeId,
    size: usize,
    name: String,
    kind: BtfKind,
    source: TypeSource,
    by_size: bool,
}

impl RecordType {
    /// The name it was looked up by (`event`, or `--event-type`'s).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `struct`, `union` or `typedef`.
    pub fn kind(&self) -> &'static str {
        match self.kind {
            BtfKind::Union => "union",
            BtfKind::Typedef => "typedef",
            _ => "struct",
        }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn source(&self) -> TypeSource {
        self.source
    }

    /// Found not by name but as the only struct of the size the programs' output calls pass.
    pub fn by_size(&self) -> bool {
        self.by_size
    }
}

/// Where the record type was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeSource {
    /// The object's `.BTF`.
    Btf,
    /// The object's `.debug_info`, when `.BTF` lacks the type (clang writes there only the types
    /// globals and signatures reach).
    Dwarf,
}

impl fmt::Display for TypeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TypeSource::Btf => "BTF",
            TypeSource::Dwarf => "DWARF",
        })
    }
}

/// A record, decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Decoded through the record type (extra trailing bytes, such as perf's padding, ignored).
    Typed(Value),
    /// No record type: the bytes as they came.
    Untyped(Vec<u8>),
    /// Shorter than the record type: not decoded, never misread.
    TooShort { expected: usize, bytes: Vec<u8> },
}

#[derive(Debug, thiserror::Error)]
pub enum RecordTypeError {
    #[error(
        "--event-type {0}: the object has no BTF nor DWARF (compile with -g) to decode records with"
    )]
    NoBtf(String),
    #[error(
        "--event-type {0}: no struct, union or typedef of that name in the object's BTF or DWARF"
    )]
    Unknown(String),
    #[error("--event-type {0}: the type has no size")]
    Unsized(String),
    #[error("reading the object's BTF: {0}")]
    Btf(#[from] crate::btf::BtfError),
    #[error("reading the object's DWARF: {0}")]
    Dwarf(#[from] crate::dwarf::DwarfError),
}

impl RecordDecoder {
    /// Decodes records as `event_type`, or by default as `struct event` when the object has one;
    /// otherwise records stay bytes. The type is looked up in the object's BTF, then, only if
    /// that lacks it, in its DWARF. Without a type by name, the one named struct whose size is
    /// the constant record size of every output call in the programs is taken (see
    /// [`crate::record_size`]). `object` is the ELF object.
    pub fn new(object: &[u8], event_type: Option<&str>) -> Result<Self, RecordTypeError> {
        let name = event_type.unwrap_or("event");
        let btf = match Btf::from_elf(object) {
            Ok(btf) => Some(btf),
            Err(crate::btf::BtfError::NoBtfSection) => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(btf) = btf {
            match find_record_type(&btf, name)? {
                Some(found) => return Ok(Self::typed(btf, found, TypeSource::Btf)),
                None => return Self::after_btf(object, event_type, Some(btf)),
            }
        }
        Self::after_btf(object, event_type, None)
    }

    /// The lookups once the object's BTF (if any) has no type by the name.
    fn after_btf(
        object: &[u8],
        event_type: Option<&str>,
        btf: Option<Btf>,
    ) -> Result<Self, RecordTypeError> {
        let name = event_type.unwrap_or("event");
        let dwarf = crate::dwarf::types_from_elf(object)?;
        if let Some(dwarf) = dwarf {
            if let Some(found) = find_record_type(&dwarf, name)? {
                return Ok(Self::typed(dwarf, found, TypeSource::Dwarf));
            }
            return Self::by_size(object, event_type, btf, Some(dwarf));
        }
        Self::by_size(object, event_type, btf, None)
    }

    fn by_size(
        object: &[u8],
        event_type: Option<&str>,
        btf: Option<Btf>,
        dwarf: Option<Btf>,
    ) -> Result<Self, RecordTypeError> {
        match event_type {
            Some(name) if btf.is_none() && dwarf.is_none() => {
                Err(RecordTypeError::NoBtf(name.to_owned()))
            }
            Some(name) => Err(RecordTypeError::Unknown(name.to_owned())),
            None => Ok(Self {
                record: crate::record_size::record_size(object)
                    .and_then(|size| only_struct_of_size(size, btf, dwarf)),
            }),
        }
    }

    fn typed(types: Btf, found: Found, source: TypeSource) -> Self {
        Self {
            record: Some(RecordType {
                types,
                id: found.id,
                size: found.size,
                name: found.name,
                kind: found.kind,
                source,
                by_size: false,
            }),
        }
    }

    /// Byte offset of a top-level 8-byte integer member named `seq` in the record type: a sequence
    /// number the program stamps on each record, which lets the reader count records that never
    /// arrived (ring buffer drops are otherwise invisible to it).
    pub fn seq_offset(&self) -> Option<usize> {
        let record = self.record.as_ref()?;
        let btf = &record.types;
        let TypeKind::Struct(composite) = &btf.type_by_id(btf.resolve(record.id)?)?.kind else {
            return None;
        };
        let member = composite
            .members
            .iter()
            .find(|m| btf.name(m.name_off) == "seq")?;
        let is_u64 = matches!(&btf.type_by_id(btf.resolve(member.type_id)?)?.kind, TypeKind::Int(int) if int.size == 8);
        (is_u64 && member.bitfield_size == 0 && member.bit_offset % 8 == 0)
            .then_some(member.bit_offset as usize / 8)
    }

    /// The record type, when records are typed.
    pub fn record_type(&self) -> Option<&RecordType> {
        self.record.as_ref()
    }

    pub fn decode(&self, data: &[u8]) -> Record {
        match &self.record {
            Some(record) if data.len() >= record.size => {
                Record::Typed(decode_at(&record.types, record.id, &data[..record.size], 0))
            }
            Some(record) => Record::TooShort {
                expected: record.size,
                bytes: data.to_vec(),
            },
            None => Record::Untyped(data.to_vec()),
        }
    }
}

/// A record type found among the types of one source.
struct Found {
    id: TypeId,
    size: usize,
    name: String,
    kind: BtfKind,
}

/// A named struct, union or typedef among `types`, with its size.
fn find_record_type(types: &Btf, name: &str) -> Result<Option<Found>, RecordTypeError> {
    let Some((kind, id)) = [BtfKind::Struct, BtfKind::Union, BtfKind::Typedef]
        .into_iter()
        .find_map(|kind| Some((kind, types.find_by_name(kind, name)?)))
    else {
        return Ok(None);
    };
    let size = types
        .size_of(id)
        .and_then(|s| usize::try_from(s).ok())
        .filter(|s| *s > 0)
        .ok_or_else(|| RecordTypeError::Unsized(name.to_owned()))?;
    Ok(Some(Found {
        id,
        size,
        name: name.to_owned(),
        kind,
    }))
}

/// The record type when exactly one struct name, across BTF and DWARF, has `size` bytes (the
/// same struct in both counts once; BTF's copy is preferred).
fn only_struct_of_size(size: u64, btf: Option<Btf>, dwarf: Option<Btf>) -> Option<RecordType> {
    let of_size = |types: &Btf| -> Vec<(TypeId, String)> {
        types
            .own_ids()
            .filter_map(|id| {
                let ty = types.type_by_id(id)?;
                let TypeKind::Struct(c) = &ty.kind else {
                    return None;
                };
                let name = types.name(ty.name_off);
                (u64::from(c.size) == size && !name.is_empty()).then(|| (id, name.to_owned()))
            })
            .collect()
    };
    let mut names: Vec<String> = Vec::new();
    let mut first = None;
    for (source, types) in [(TypeSource::Btf, btf), (TypeSource::Dwarf, dwarf)] {
        let Some(types) = types else { continue };
        let found = of_size(&types);
        for (_, name) in &found {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        if first.is_none() {
            first = found
                .into_iter()
                .next()
                .map(|(id, name)| (source, types, id, name));
        }
    }
    let (source, types, id, name) = first.filter(|_| names.len() == 1)?;
    Some(RecordType {
        types,
        id,
        size: usize::try_from(size).ok()?,
        name,
        kind: BtfKind::Struct,
        source,
        by_size: true,
    })
}
