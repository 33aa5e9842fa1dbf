//! Object parsing: our validation and section renaming, then aya-obj's parser on what we would
//! hand it. A panic in either is a finding (the loader's panic boundary is not in this path).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(object) = bpfhook::object::ObjectFile::parse(data) {
        let _ = aya_obj::Object::parse(object.loader_bytes());
    }
});
