//! Readable names for Rust and C++ symbols; others pass through unchanged.

use std::borrow::Cow;

pub(crate) fn demangle(name: &str) -> Cow<'_, str> {
    // Rust first: its legacy scheme looks like C++ (`_ZN…E`) but ends in a hash that the
    // alternate format drops.
    if let Ok(rust) = rustc_demangle::try_demangle(name) {
        return Cow::Owned(format!("{rust:#}"));
    }
    if name.starts_with("_Z") {
        if let Ok(symbol) = cpp_demangle::Symbol::new(name) {
            if let Ok(cpp) = symbol.demangle() {
                return Cow::Owned(cpp);
            }
        }
    }
    Cow::Borrowed(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_rust_and_cpp_and_leaves_c_alone() {
        assert_eq!(
            demangle("_ZN4core3fmt5write17h0123456789abcdefE"),
            "core::fmt::write"
        );
        assert_eq!(demangle("_RNvCs1234_7mycrate3foo"), "mycrate::foo");
        assert_eq!(demangle("_ZN3foo3barEv"), "foo::bar()");
        assert_eq!(demangle("getpid"), "getpid");
        assert_eq!(demangle("_Znot valid"), "_Znot valid");
    }
}
