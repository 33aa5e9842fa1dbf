//! Errors cross into Python as `bpfhook.BpfError` with the library's message and its causes.

pyo3::create_exception!(bpfhook, BpfError, pyo3::exceptions::PyException);

/// `message: cause: cause`, as the CLI prints errors.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
