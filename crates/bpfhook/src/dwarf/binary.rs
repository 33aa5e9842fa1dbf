//! A binary's DWARF for uprobes: where it is (the binary itself, else its separate debug
//! file), the formal parameters of its functions, and C names of its types as bpftrace prints
//! them (`struct Foo*`, `const char*`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::DwarfError;
use crate::btf::{Btf, TypeId, TypeKind};

/// A function's formal parameter: its name ("" when unnamed) and type in [`DebugInfo::types`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    pub name: String,
    pub type_id: TypeId,
}

/// The DWARF of one binary: every type it describes, and the parameters of its functions.
pub struct DebugInfo {
    pub types: Btf,
    pub(super) functions: HashMap<String, Vec<Parameter>>,
}

impl std::fmt::Debug for DebugInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DebugInfo")
            .field("types", &self.types.type_count())
            .field("functions", &self.functions.len())
            .finish()
    }
}

impl DebugInfo {
    /// The DWARF of the ELF file at `path`: its own, else that of its debug file (by build-id
    /// or `.gnu_debuglink`, in the standard places, then in each of `search` directories).
    pub fn for_binary(path: &Path, search: &[PathBuf]) -> Result<DebugInfo, DwarfError> {
        let io = |e: std::io::Error| DwarfError::Io(path.to_path_buf(), e);
        let data = std::fs::read(path).map_err(io)?;
        let file = object::File::parse(&*data)?;
        if let Some(info) = super::read(&file, Some(path))? {
            return Ok(info);
        }
        let no_debug_info = || DwarfError::NoDebugInfo(path.to_path_buf());
        let debug = crate::symbolize::debug_file(path, &file, search).ok_or_else(no_debug_info)?;
        super::read(&object::File::parse(&*debug)?, Some(path))?.ok_or_else(no_debug_info)
    }

    /// The formal parameters of `function`, in order.
    pub fn parameters(&self, function: &str) -> Result<&[Parameter], DwarfError> {
        self.functions
            .get(function)
            .map(Vec::as_slice)
            .ok_or_else(|| DwarfError::NoFunction(function.to_owned()))
    }
}

/// The C name of type `id` as bpftrace lists parameters: `int`, `int*`, `struct Foo*`,
/// `const char*`, `char[10]`, `void*`.
pub fn type_name(btf: &Btf, id: TypeId) -> String {
    // A bound: the graph was checked to have no reference loops, but stays finite regardless.
    type_name_within(btf, id, 64)
}

fn type_name_within(btf: &Btf, id: TypeId, depth: u32) -> String {
    let Some(t) = btf.type_by_id(id).filter(|_| depth > 0) else {
        return "void".to_owned();
    };
    let name = btf.name(t.name_off);
    let inner = |to: TypeId| type_name_within(btf, to, depth - 1);
    match &t.kind {
        TypeKind::Void => "void".to_owned(),
        TypeKind::Ptr(to) => format!("{}*", inner(*to)),
        TypeKind::Const(to) => format!("const {}", inner(*to)),
        TypeKind::Volatile(to) => format!("volatile {}", inner(*to)),
        TypeKind::Restrict(to) => inner(*to),
        TypeKind::Array(array) => format!("{}[{}]", inner(array.elem), array.len),
        TypeKind::Struct(_) | TypeKind::Fwd { is_union: false } => tagged("struct", name),
        TypeKind::Union(_) | TypeKind::Fwd { is_union: true } => tagged("union", name),
        TypeKind::Enum(_) | TypeKind::Enum64(_) => tagged("enum", name),
        _ if name.is_empty() => "void".to_owned(),
        _ => name.to_owned(),
    }
}

fn tagged(keyword: &str, name: &str) -> String {
    match name {
        "" => format!("{keyword} (anonymous)"),
        name => format!("{keyword} {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfhook_testkit::test_binary;

    fn parameters(info: &DebugInfo, function: &str) -> Vec<String> {
        info.parameters(function)
            .expect("function")
            .iter()
            .map(|p| format!("{} {}", type_name(&info.types, p.type_id), p.name))
            .collect()
    }

    #[test]
    fn parameters_are_named_and_typed_from_the_binary_dwarf() {
        let info = DebugInfo::for_binary(&test_binary("dwarf_target"), &[]).expect("DWARF");
        assert_eq!(
            parameters(&info, "dwarf_scalars"),
            ["int x", "char c", "counter_t count", "enum colour colour"]
        );
        assert_eq!(
            parameters(&info, "dwarf_pointers"),
            ["struct point* p", "const char* label", "struct node* n"]
        );
        assert_eq!(
            parameters(&info, "dwarf_by_value"),
            ["struct point p", "__int128 wide"]
        );
        assert_eq!(parameters(&info, "main"), Vec::<String>::new());
        let point = info
            .types
            .find_by_name(crate::btf::BtfKind::Struct, "point")
            .expect("struct point");
        assert_eq!(info.types.size_of(point), Some(24));
        assert!(matches!(
            info.parameters("no_such_function"),
            Err(DwarfError::NoFunction(_))
        ));
    }

    #[test]
    fn a_stripped_binary_finds_its_debug_file_in_a_search_directory() {
        let dir = bpfhook_testkit::TempPath::dir("dwarf-debug");
        let (stripped, debug) = (dir.path().join("target"), dir.path().join("debug"));
        std::fs::create_dir(&debug).expect("debug directory");
        let objcopy = |args: &[&std::ffi::OsStr]| {
            let status = std::process::Command::new("objcopy").args(args).status();
            assert!(status.expect("objcopy").success(), "objcopy {args:?}");
        };
        let target = test_binary("dwarf_target");
        objcopy(&[
            "--only-keep-debug".as_ref(),
            target.as_os_str(),
            debug.join("target.debug").as_os_str(),
        ]);
        objcopy(&[
            "--strip-debug".as_ref(),
            target.as_os_str(),
            stripped.as_os_str(),
        ]);
        let missing = DebugInfo::for_binary(&stripped, &[]).expect_err("no DWARF");
        assert!(matches!(missing, DwarfError::NoDebugInfo(_)), "{missing}");
        assert!(missing.to_string().contains("has no DWARF debug info"));
        let info = DebugInfo::for_binary(&stripped, &[debug]).expect("the debug file's DWARF");
        assert_eq!(parameters(&info, "dwarf_many").len(), 7);
    }

    #[test]
    fn malformed_dwarf_is_an_error_not_a_panic() {
        let target = std::fs::read(test_binary("dwarf_target")).expect("target");
        let file = object::File::parse(&*target).expect("ELF");
        let section = object::Object::section_by_name(&file, ".debug_info").expect("debug_info");
        let (start, size) = object::ObjectSection::file_range(&section).expect("in the file");
        // Each byte of the first unit's header and DIEs overwritten in turn.
        for at in (start..start + size.min(256)).step_by(3) {
            let mut bytes = target.clone();
            bytes[at as usize] ^= 0xa5;
            if let Ok(file) = object::File::parse(&*bytes) {
                let _ = super::super::read(&file, None);
            }
        }
    }
}
