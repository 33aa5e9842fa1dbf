//! `.BTF.ext` func_info: where each function of the code starts and its BTF type. The kernel
//! wants it of any program that hands one of its functions to a helper as a callback
//! (`bpf_for_each_map_elem`, `bpf_loop`), and loaders pass it through: aya-obj and libbpf
//! read it per code section.

use super::btf_writer::{BtfWriter, Linkage};

const BTF_EXT_HEADER_LEN: u32 = 32;
const FUNC_INFO_RECORD_SIZE: u32 = 8;
/// The calling convention passes at most five arguments.
const ARGUMENTS: [&str; 5] = ["arg1", "arg2", "arg3", "arg4", "arg5"];

/// A code section and its functions: name, byte offset, and whether it is a program (an
/// entry point, taking the context) or a static function of `.text`.
pub(super) struct CodeFunctions<'a> {
    pub section: &'a str,
    pub functions: Vec<(&'a str, u64, bool)>,
}

/// Adds a FUNC type per function to `writer` and returns the `.BTF.ext` that places them.
pub(super) fn add(writer: &mut BtfWriter, code: &[CodeFunctions]) -> Vec<u8> {
    let int = writer.int("int", 4, true);
    let long = writer.int("long", 8, true);
    let void_pointer = writer.pointer(0);
    let program_proto = writer.func_proto(int, &[("ctx", void_pointer)]);
    let arguments: Vec<(&str, u32)> = ARGUMENTS.iter().map(|name| (*name, long)).collect();
    let function_proto = writer.func_proto(long, &arguments);

    let mut records = FUNC_INFO_RECORD_SIZE.to_le_bytes().to_vec();
    for section in code {
        let name = writer.string(section.section);
        push_words(&mut records, &[name, section.functions.len() as u32]);
        for &(function, offset, is_program) in &section.functions {
            let type_id = if is_program {
                writer.func(function, program_proto, Linkage::Global)
            } else {
                writer.func(function, function_proto, Linkage::Static)
            };
            push_words(&mut records, &[offset as u32, type_id]);
        }
    }

    let func_info_len = records.len() as u32;
    let mut ext = 0xeb9fu16.to_le_bytes().to_vec();
    ext.extend_from_slice(&[1, 0]); // version, flags
                                    // func_info, then empty line_info and CO-RE relocation subsections right after it.
    push_words(
        &mut ext,
        &[
            BTF_EXT_HEADER_LEN,
            0,
            func_info_len,
            func_info_len,
            0,
            func_info_len,
            0,
        ],
    );
    ext.extend_from_slice(&records);
    ext
}

fn push_words(out: &mut Vec<u8>, words: &[u32]) {
    for word in words {
        out.extend_from_slice(&word.to_le_bytes());
    }
}
