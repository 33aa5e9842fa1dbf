//! The last-resort boundary around aya-obj: a panic inside its parser or relocator becomes an
//! error. The object module validates what aya-obj receives, so reaching this is a bug in that
//! validation (or in aya-obj), and the error says so.
//!
//! The panic hook is process-global, so it is not swapped per call (another thread's panic
//! at the same moment would lose its message or the hook would be restored wrongly). Instead one
//! hook is installed once, in front of whatever hook was there: on a thread inside the boundary
//! it records the panic's message and location for the error; on every other thread it hands the
//! panic to the previous hook unchanged.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

thread_local! {
    static INSIDE: Cell<bool> = const { Cell::new(false) };
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A panic caught at the boundary: where in the loader, and the panic's message and location.
#[derive(Debug)]
pub struct CaughtPanic {
    pub stage: &'static str,
    pub message: String,
}

/// Runs `f`; a panic in it is returned as [`CaughtPanic`] without the default panic output.
/// The closure's state is dropped on a panic, so nothing it half-built is used afterwards.
pub fn guard<T>(stage: &'static str, f: impl FnOnce() -> T) -> Result<T, CaughtPanic> {
    install_hook();
    let was_inside = INSIDE.with(|inside| inside.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    INSIDE.with(|inside| inside.set(was_inside));
    result.map_err(|_| CaughtPanic {
        stage,
        message: CAUGHT
            .with(|caught| caught.borrow_mut().take())
            .unwrap_or_else(|| "(no message)".to_owned()),
    })
}

fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if INSIDE.with(Cell::get) {
                CAUGHT.with(|caught| *caught.borrow_mut() = Some(describe(info)));
            } else {
                previous(info);
            }
        }));
    });
}

fn describe(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-text panic)");
    match info.location() {
        Some(at) => format!("{message} (at {}:{})", at.file(), at.line()),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_with_its_message() {
        let caught = guard("testing", || -> u32 { panic!("index 9 out of range") })
            .expect_err("the panic is caught");
        assert_eq!(caught.stage, "testing");
        assert!(
            caught.message.starts_with("index 9 out of range (at "),
            "{}",
            caught.message
        );
        assert!(caught.message.contains("boundary.rs"), "{}", caught.message);
    }

    #[test]
    fn values_pass_through_and_nesting_restores_the_state() {
        let inner = guard("outer", || guard("inner", || panic!("inner")).is_err());
        assert!(matches!(inner, Ok(true)));
        assert!(!INSIDE.with(Cell::get));
        assert_eq!(guard("plain", || 7).ok().map(|v| v + 1), Some(8));
    }
}
