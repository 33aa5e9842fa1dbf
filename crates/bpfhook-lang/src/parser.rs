//! The parser: tokens → [`crate::ast::Program`] (filled in by the front end).
