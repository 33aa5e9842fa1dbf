//! `bpfhook._native`: the Python extension module over the bpfhook library. The Python
//! package (`bpfhook`, `bpfhook.bcc`) builds BCC's API and a plain Pythonic one on it.

mod bcc;
mod error;
mod program;
mod symbols;
mod trace;
mod types;

use pyo3::prelude::*;

use bpfhook::kernel::features::{self, Feature};
use error::{error_chain, BpfError};

/// (object path, entry points as (function, kind, program, auto), rewritten C, record types
/// as (map, C type) from the output calls).
type BccCompiled = (
    String,
    Vec<(String, String, String, bool)>,
    String,
    Vec<(String, String)>,
);

/// Compiles BCC-dialect C.
#[pyfunction]
#[pyo3(signature = (text, source_name="<text>", cflags=Vec::new()))]
fn bcc_compile(
    py: Python<'_>,
    text: &str,
    source_name: &str,
    cflags: Vec<String>,
) -> PyResult<BccCompiled> {
    let compiled = py
        .detach(|| bcc::compile(text, source_name, &cflags))
        .map_err(|e| BpfError::new_err(error_chain(&e)))?;
    Ok((
        compiled.object.display().to_string(),
        compiled
            .entries
            .into_iter()
            .map(|e| (e.function, e.kind, e.program, e.auto))
            .collect(),
        compiled.rewritten,
        compiled.record_types,
    ))
}

/// Compiles a libbpf-style C file with the library's pipeline (vmlinux.h, cache); returns
/// the object's path.
#[pyfunction]
#[pyo3(signature = (path, cflags=Vec::new()))]
fn compile(py: Python<'_>, path: std::path::PathBuf, cflags: Vec<String>) -> PyResult<String> {
    let options = bpfhook::compile::CompileOptions {
        cflags,
        no_cache: false,
    };
    let compiled = py
        .detach(|| bpfhook::compile::compile(&path, &options))
        .map_err(|e| BpfError::new_err(error_chain(&e)))?;
    Ok(compiled.object.display().to_string())
}

/// Why a hook family cannot attach on this kernel (the library's probe), None if it can.
#[pyfunction]
fn missing_feature(name: &str) -> PyResult<Option<String>> {
    let feature = match name {
        "kprobes" => Feature::Kprobes,
        "uprobes" => Feature::Uprobes,
        "fentry" => Feature::Fentry,
        "lsm" => Feature::Lsm,
        "tp_btf" => Feature::BtfTracepoint,
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "unknown feature `{other}`"
            )))
        }
    };
    Ok(features::check(feature).err().map(|e| e.to_string()))
}

#[pyfunction]
fn tracepoint_exists(category: &str, event: &str) -> bool {
    bpfhook::discover::TracepointFormat::read(category, event).is_ok()
}

/// Every tracepoint, as `category:name`.
#[pyfunction]
fn available_tracepoints() -> PyResult<Vec<String>> {
    let text =
        bpfhook::discover::available_events().map_err(|e| BpfError::new_err(error_chain(&e)))?;
    Ok(bpfhook::discover::parse_events(&text)
        .map(|(category, name)| format!("{category}:{name}"))
        .collect())
}

/// Kernel functions a kprobe can attach to.
#[pyfunction]
fn kprobe_functions() -> PyResult<Vec<String>> {
    let functions = bpfhook::discover::KprobeFunctions::read()
        .map_err(|e| BpfError::new_err(error_chain(&e)))?;
    Ok(functions.names().map(str::to_owned).collect())
}

/// Where a binary or library name resolves ($PATH, the linker cache), None if nowhere.
#[pyfunction]
fn find_binary(name: &str) -> Option<String> {
    bpfhook::attach::find_binary(name)
        .ok()
        .map(|p| p.display().to_string())
}

/// Whether the running kernel's struct `name` has member `field` (through its BTF).
#[pyfunction]
fn kernel_struct_has_field(name: &str, field: &str) -> PyResult<bool> {
    use bpfhook::btf::{Btf, BtfKind, TypeKind};
    let btf = Btf::from_file("/sys/kernel/btf/vmlinux")
        .map_err(|e| BpfError::new_err(error_chain(&e)))?;
    let Some(id) = btf.find_by_name(BtfKind::Struct, name) else {
        return Ok(false);
    };
    Ok(match btf.type_by_id(id).map(|t| &t.kind) {
        Some(TypeKind::Struct(composite)) => composite
            .members
            .iter()
            .any(|m| btf.name(m.name_off) == field),
        _ => false,
    })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("BpfError", m.py().get_type::<BpfError>())?;
    m.add_class::<program::Program>()?;
    m.add_class::<symbols::Symbols>()?;
    m.add_function(wrap_pyfunction!(bcc_compile, m)?)?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(trace::trace, m)?)?;
    m.add_function(wrap_pyfunction!(missing_feature, m)?)?;
    m.add_function(wrap_pyfunction!(tracepoint_exists, m)?)?;
    m.add_function(wrap_pyfunction!(kprobe_functions, m)?)?;
    m.add_function(wrap_pyfunction!(available_tracepoints, m)?)?;
    m.add_function(wrap_pyfunction!(find_binary, m)?)?;
    m.add_function(wrap_pyfunction!(kernel_struct_has_field, m)?)?;
    Ok(())
}
