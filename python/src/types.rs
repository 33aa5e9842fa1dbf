//! BTF types as JSON descriptions, from which the Python side builds ctypes types (BCC's
//! `Key`/`Leaf`, `event()` records).
//!
//! `{"kind": "int", "size": 4, "signed": false}`, `{"kind": "array", "elem": …, "len": 16}`,
//! `{"kind": "struct", "name": "data_t", "size": 24, "fields": [{"name", "offset", "type",
//! "bits"}]}`; pointers are 8-byte unsigned ints, enums ints of their size.

use bpfhook::btf::{Btf, BtfKind, TypeId, TypeKind};
use serde_json::{json, Value};

/// The description of type `id`; `None` for types without a layout (void, functions).
pub fn describe(btf: &Btf, id: TypeId) -> Option<Value> {
    describe_depth(btf, id, 0)
}

fn describe_depth(btf: &Btf, id: TypeId, depth: u32) -> Option<Value> {
    if depth > 32 {
        return None;
    }
    let id = btf.resolve(id)?;
    let ty = btf.type_by_id(id)?;
    Some(match &ty.kind {
        TypeKind::Int(int) => json!({
            "kind": "int",
            "size": int.size,
            "signed": int.is_signed(),
            // DWARF-derived types keep the name but not always the char encoding.
            "char": int.is_char() || btf.name(ty.name_off) == "char",
        }),
        TypeKind::Enum(e) | TypeKind::Enum64(e) => {
            json!({"kind": "int", "size": e.size, "signed": e.signed, "char": false})
        }
        TypeKind::Ptr(_) => {
            json!({"kind": "int", "size": btf.pointer_size(), "signed": false, "char": false})
        }
        TypeKind::Float { size } => json!({"kind": "float", "size": size}),
        TypeKind::Array(array) => json!({
            "kind": "array",
            "elem": describe_depth(btf, array.elem, depth + 1)?,
            "len": array.len,
        }),
        TypeKind::Struct(composite) | TypeKind::Union(composite) => {
            let fields: Vec<Value> = composite
                .members
                .iter()
                .filter_map(|member| {
                    Some(json!({
                        "name": btf.name(member.name_off),
                        "offset": member.bit_offset / 8,
                        "bit_offset": member.bit_offset % 8,
                        "bits": member.bitfield_size,
                        "type": describe_depth(btf, member.type_id, depth + 1)?,
                    }))
                })
                .collect();
            json!({
                "kind": if ty.kind.tag() == BtfKind::Union { "union" } else { "struct" },
                "name": btf.name(ty.name_off),
                "size": composite.size,
                "fields": fields,
            })
        }
        _ => return None,
    })
}

/// The key and value types of map `name`, from its BTF definition in `.maps`
/// (`__type(key, K)` members are pointers to K).
pub fn map_types(btf: &Btf, name: &str) -> (Option<Value>, Option<Value>) {
    let Some(definition) = map_definition(btf, name) else {
        return (None, None);
    };
    let Some(TypeKind::Struct(composite)) = btf.type_by_id(definition).map(|t| &t.kind) else {
        return (None, None);
    };
    let member_type = |wanted: &str| {
        let member = composite
            .members
            .iter()
            .find(|m| btf.name(m.name_off) == wanted)?;
        match &btf.type_by_id(btf.resolve(member.type_id)?)?.kind {
            TypeKind::Ptr(target) => describe(btf, *target),
            _ => None,
        }
    };
    (member_type("key"), member_type("value"))
}

fn map_definition(btf: &Btf, name: &str) -> Option<TypeId> {
    let section = btf.find_by_name(BtfKind::Datasec, ".maps")?;
    let TypeKind::Datasec { vars, .. } = &btf.type_by_id(section)?.kind else {
        return None;
    };
    vars.iter().find_map(|var| {
        let ty = btf.type_by_id(var.type_id)?;
        match &ty.kind {
            TypeKind::Var { type_id, .. } if btf.name(ty.name_off) == name => btf.resolve(*type_id),
            _ => None,
        }
    })
}

/// The struct (or typedef'd struct) named `name`, for `event()` records.
pub fn named_struct(btf: &Btf, name: &str) -> Option<Value> {
    let bare = name
        .trim()
        .trim_start_matches("struct ")
        .trim_start_matches("union ")
        .trim();
    [BtfKind::Struct, BtfKind::Union, BtfKind::Typedef]
        .into_iter()
        .find_map(|kind| btf.find_by_name(kind, bare))
        .and_then(|id| describe(btf, id))
}
