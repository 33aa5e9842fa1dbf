//! A raw listing of BTF, one type per line with members and parameters
//! indented below, in the format of `bpftool btf dump file …`.

use std::io::Write;

use super::types::{Btf, BtfType, EnumType, Linkage, TypeId, TypeKind};
use super::BtfError;

/// Lists the types `btf` defines itself (for split BTF, not its base's).
pub fn write_raw(btf: &Btf, out: &mut impl Write) -> Result<(), BtfError> {
    const FLUSH_AT: usize = 1 << 20;
    let mut text = Vec::with_capacity(FLUSH_AT + (64 << 10));
    for id in btf.own_ids() {
        write_type(btf, id, btf.type_or_void(id), &mut text)?;
        if text.len() >= FLUSH_AT {
            out.write_all(&text)?;
            text.clear();
        }
    }
    out.write_all(&text)?;
    Ok(())
}

/// bpftool's name display: `'(anon)'` for empty names.
fn quoted(btf: &Btf, name_off: u32) -> &str {
    match btf.name(name_off) {
        "" => "(anon)",
        name => name,
    }
}

fn linkage_name(linkage: Linkage) -> &'static str {
    match linkage {
        Linkage::Static => "static",
        Linkage::Global => "global",
        Linkage::Extern => "extern",
        Linkage::Unknown(_) => "(unknown)",
    }
}

fn write_type(btf: &Btf, id: TypeId, t: &BtfType, out: &mut Vec<u8>) -> std::io::Result<()> {
    write!(
        out,
        "[{id}] {} '{}'",
        t.kind.tag().as_str(),
        quoted(btf, t.name_off)
    )?;
    match &t.kind {
        TypeKind::Void => {}
        TypeKind::Int(int) => {
            let encoding = if int.is_signed() {
                "SIGNED"
            } else if int.is_char() {
                "CHAR"
            } else if int.is_bool() {
                "BOOL"
            } else {
                "(none)"
            };
            write!(
                out,
                " size={} bits_offset={} nr_bits={} encoding={encoding}",
                int.size, int.bit_offset, int.bits
            )?;
        }
        TypeKind::Ptr(target)
        | TypeKind::Typedef(target)
        | TypeKind::Volatile(target)
        | TypeKind::Const(target)
        | TypeKind::Restrict(target)
        | TypeKind::TypeTag { target, .. } => write!(out, " type_id={target}")?,
        TypeKind::Array(array) => write!(
            out,
            " type_id={} index_type_id={} nr_elems={}",
            array.elem, array.index, array.len
        )?,
        TypeKind::Struct(c) | TypeKind::Union(c) => {
            write!(out, " size={} vlen={}", c.size, c.members.len())?;
            for m in &c.members {
                write!(
                    out,
                    "\n\t'{}' type_id={} bits_offset={}",
                    quoted(btf, m.name_off),
                    m.type_id,
                    m.bit_offset
                )?;
                if m.bitfield_size != 0 {
                    write!(out, " bitfield_size={}", m.bitfield_size)?;
                }
            }
        }
        TypeKind::Enum(e) => write_enum(btf, e, false, out)?,
        TypeKind::Enum64(e) => write_enum(btf, e, true, out)?,
        TypeKind::Fwd { is_union } => write!(
            out,
            " fwd_kind={}",
            if *is_union { "union" } else { "struct" }
        )?,
        TypeKind::Func { proto, linkage } => {
            write!(out, " type_id={proto} linkage={}", linkage_name(*linkage))?
        }
        TypeKind::FuncProto(proto) => {
            let vlen = proto.params.len() + usize::from(proto.variadic);
            write!(out, " ret_type_id={} vlen={vlen}", proto.ret)?;
            for p in &proto.params {
                write!(
                    out,
                    "\n\t'{}' type_id={}",
                    quoted(btf, p.name_off),
                    p.type_id
                )?;
            }
            if proto.variadic {
                out.extend_from_slice(b"\n\t'(anon)' type_id=0");
            }
        }
        TypeKind::Var { type_id, linkage } => write!(
            out,
            " type_id={type_id}, linkage={}",
            linkage_name(*linkage)
        )?,
        TypeKind::Datasec { size, vars } => {
            write!(out, " size={size} vlen={}", vars.len())?;
            for v in vars {
                let var = btf.type_or_void(v.type_id);
                write!(
                    out,
                    "\n\ttype_id={} offset={} size={} ({} '{}')",
                    v.type_id,
                    v.offset,
                    v.size,
                    var.kind.tag().as_str(),
                    quoted(btf, var.name_off)
                )?;
            }
        }
        TypeKind::Float { size } => write!(out, " size={size}")?,
        TypeKind::DeclTag {
            target,
            component_idx,
        } => write!(out, " type_id={target} component_idx={component_idx}")?,
    }
    out.push(b'\n');
    Ok(())
}

fn write_enum(btf: &Btf, e: &EnumType, is_enum64: bool, out: &mut Vec<u8>) -> std::io::Result<()> {
    let encoding = if e.signed { "SIGNED" } else { "UNSIGNED" };
    write!(
        out,
        " encoding={encoding} size={} vlen={}",
        e.size,
        e.values.len()
    )?;
    for v in &e.values {
        let name = quoted(btf, v.name_off);
        match (is_enum64, e.signed) {
            (false, true) => write!(out, "\n\t'{name}' val={}", v.as_i64(32))?,
            (false, false) => write!(out, "\n\t'{name}' val={}", v.value)?,
            (true, true) => write!(out, "\n\t'{name}' val={}LL", v.as_i64(64))?,
            (true, false) => write!(out, "\n\t'{name}' val={}ULL", v.value)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::btf::types::test_blob::{every_kind, BtfBuilder};

    fn listing(btf: &Btf) -> String {
        let mut out = Vec::new();
        write_raw(btf, &mut out).expect("writing to a Vec");
        String::from_utf8(out).expect("listing is text")
    }

    #[test]
    fn lists_every_kind_like_bpftool() {
        let mut builder = every_kind();
        builder.int_with_encoding("_Bool", 1, 4);
        let btf = Btf::parse(&builder.build()).expect("valid blob");
        let expected = "\
[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED
[2] PTR '(anon)' type_id=1
[3] ARRAY '(anon)' type_id=1 index_type_id=1 nr_elems=4
[4] STRUCT 'pair' size=8 vlen=2
\t'a' type_id=1 bits_offset=0
\t'b' type_id=1 bits_offset=32 bitfield_size=3
[5] UNION 'either' size=16 vlen=2
\t'i' type_id=1 bits_offset=0
\t'p' type_id=3 bits_offset=0
[6] ENUM 'color' encoding=SIGNED size=4 vlen=2
\t'RED' val=-1
\t'BLUE' val=7
[7] FWD 'later' fwd_kind=union
[8] TYPEDEF 'int_t' type_id=1
[9] VOLATILE '(anon)' type_id=8
[10] CONST '(anon)' type_id=9
[11] RESTRICT '(anon)' type_id=2
[12] FUNC_PROTO '(anon)' ret_type_id=1 vlen=2
\t'x' type_id=2
\t'(anon)' type_id=0
[13] FUNC 'f' type_id=12 linkage=global
[14] VAR 'v' type_id=4, linkage=global
[15] DATASEC '.data' size=16 vlen=1
\ttype_id=14 offset=0 size=8 (VAR 'v')
[16] FLOAT 'double' size=8
[17] DECL_TAG 'tag' type_id=4 component_idx=1
[18] TYPE_TAG 'user' type_id=10
[19] ENUM64 'big' encoding=UNSIGNED size=8 vlen=1
\t'HUGE' val=1099511627776ULL
[20] INT '_Bool' size=1 bits_offset=0 nr_bits=8 encoding=BOOL
";
        assert_eq!(listing(&btf), expected);
    }

    #[test]
    fn split_listing_shows_only_the_module_types() {
        let mut base_builder = BtfBuilder::new();
        let int = base_builder.int("int", 4, true);
        let base = Arc::new(Btf::parse(&base_builder.build()).expect("base"));
        let mut split = BtfBuilder::split(base.type_count(), base_builder.strings_len());
        let ptr = split.ptr(int);
        split.var("counter", ptr, 0);
        let module = Btf::parse_split(&split.build(), &base).expect("split");
        assert_eq!(
            listing(&module),
            "[2] PTR '(anon)' type_id=1\n[3] VAR 'counter' type_id=2, linkage=static\n"
        );
    }
}
