//! Source positions and diagnostics. Every error the front end or the semantic pass reports
//! carries a span, and prints the way bpftrace does: `stdin:1:9-14: ERROR: message`, then the
//! source line and a `~~~~` underline below the span.

use std::fmt;

/// A byte range `[start, end)` in the program text, and the macro expansion it was copied
/// into (0: written in place; n: `Program::expansions[n - 1]`, the call it expanded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
    pub expansion: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Self {
            start: start as u32,
            end: end as u32,
            expansion: 0,
        }
    }

    /// The smallest span covering both (in the expansion of `self`).
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
            expansion: self.expansion,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    /// An error printed as its message alone (it has no place in the program).
    Plain,
}

/// One message about the program, pointing at where it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Span,
    pub message: String,
    /// A line printed before the diagnostic: what bpftrace prints there from another tool
    /// (clang's `definitions.h:2:10: fatal error: …`).
    pub preamble: Option<String>,
    /// Further places that explain it (a definition, the macro call it was expanded from),
    /// each printed after it with the same label.
    pub notes: Vec<Note>,
}

/// A place a diagnostic points at besides its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub span: Span,
    pub message: String,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            span,
            message: message.into(),
            preamble: None,
            notes: Vec::new(),
        }
    }

    /// An error about no place in the program (the command line's options): rendered as
    /// its message alone.
    pub fn plain(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Plain,
            span: Span::default(),
            message: message.into(),
            preamble: None,
            notes: Vec::new(),
        }
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            span,
            message: message.into(),
            preamble: None,
            notes: Vec::new(),
        }
    }

    /// The same, `line` printed before it.
    pub fn with_preamble(self, line: String) -> Self {
        Self {
            preamble: Some(line),
            ..self
        }
    }

    /// The same, with a note at `span` printed after it.
    pub fn with_note(mut self, span: Span, message: impl Into<String>) -> Self {
        self.notes.push(Note {
            span,
            message: message.into(),
        });
        self
    }

    /// `NAME:LINE:COL-COL: ERROR: message`, the line, and an underline (bpftrace's layout),
    /// after the preamble if any.
    pub fn render(&self, source_name: &str, source: &str) -> String {
        match &self.preamble {
            Some(line) => format!("{line}\n{}", self.render_own(source_name, source)),
            None => self.render_own(source_name, source),
        }
    }

    fn render_own(&self, source_name: &str, source: &str) -> String {
        let label = match self.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
            Severity::Plain => {
                return match self.message.strip_prefix("HINT: ") {
                    Some(_) => self.message.clone(),
                    None => format!("ERROR: {}", self.message),
                };
            }
        };
        let mut out = render_place(source_name, source, self.span, label, &self.message);
        out.push_str(&render_notes(source_name, source, &self.notes, label));
        out
    }
}

/// Notes as they follow a message (each on its own lines, with a leading line break).
pub fn render_notes(source_name: &str, source: &str, notes: &[Note], label: &str) -> String {
    notes
        .iter()
        .map(|n| {
            format!(
                "\n{}",
                render_place(source_name, source, n.span, label, &n.message)
            )
        })
        .collect()
}

/// `NAME:LINE:COL-COL: LABEL: message`, the source line, the span underlined.
fn render_place(source_name: &str, source: &str, span: Span, label: &str, message: &str) -> String {
    let at = Position::of(span, source);
    let line = &source[at.line_start..at.line_end];
    let pad: String = source[at.line_start..at.start]
        .chars()
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let underline = "~".repeat(at.end_column - at.column);
    format!(
        "{}: {label}: {message}\n{line}\n{pad}{underline}",
        at.label(source_name)
    )
}

/// Where each line starts, to name many places in one text without rescanning it.
pub struct LineIndex<'a> {
    source: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(source: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            source,
            line_starts,
        }
    }

    /// `NAME:LINE:COL-COL`, the prefix of a message about this span (`errorf` prints it).
    pub fn location(&self, source_name: &str, span: Span) -> String {
        let (line, column, end_column) = self.line_and_columns(span);
        format!("{source_name}:{line}:{column}-{end_column}")
    }

    /// The span's line and its first and past-the-end columns (characters, from 1).
    pub fn line_and_columns(&self, span: Span) -> (usize, usize, usize) {
        let start = (span.start as usize).min(self.source.len());
        let end = (span.end as usize).clamp(start, self.source.len());
        let line = self.line_starts.partition_point(|&s| s <= start);
        let line_start = self.line_starts[line - 1];
        let line_end = self.source[start..]
            .find('\n')
            .map_or(self.source.len(), |i| start + i);
        let column = self.source[line_start..start].chars().count() + 1;
        let end_column = column + self.source[start..end.min(line_end)].chars().count().max(1);
        (line, column, end_column)
    }
}

/// Where a span sits: its line and its columns (counted in characters, from 1).
struct Position {
    start: usize,
    line_start: usize,
    line_end: usize,
    line_number: usize,
    column: usize,
    end_column: usize,
}

impl Position {
    fn of(span: Span, source: &str) -> Self {
        let start = (span.start as usize).min(source.len());
        let end = (span.end as usize).clamp(start, source.len());
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let column = source[line_start..start].chars().count() + 1;
        // The underline stops at the end of the first line of a span over several lines.
        let shown_end = end.min(line_end);
        Self {
            start,
            line_start,
            line_end,
            line_number: source[..start].matches('\n').count() + 1,
            column,
            end_column: column + source[start..shown_end].chars().count().max(1),
        }
    }

    fn label(&self, source_name: &str) -> String {
        format!(
            "{source_name}:{}:{}-{}",
            self.line_number, self.column, self.end_column
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Several diagnostics, the way a pass returns them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity != Severity::Warning)
    }

    /// Every diagnostic rendered, one after another.
    pub fn render(&self, source_name: &str, source: &str) -> String {
        self.0
            .iter()
            .map(|d| d.render(source_name, source))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_line_column_and_underline() {
        let source = "begin { foo(); }";
        let d = Diagnostic::error(Span::new(8, 13), "Unknown function: foo");
        assert_eq!(
            d.render("stdin", source),
            "stdin:1:9-14: ERROR: Unknown function: foo\nbegin { foo(); }\n        ~~~~~"
        );
    }

    #[test]
    fn second_line() {
        let source = "begin {\n  @x = y;\n}";
        let d = Diagnostic::error(Span::new(15, 16), "unknown identifier");
        assert_eq!(
            d.render("a.bt", source),
            "a.bt:2:8-9: ERROR: unknown identifier\n  @x = y;\n       ~"
        );
    }
}
