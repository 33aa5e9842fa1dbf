//! Tracepoints from tracefs: the list (`available_events`) and each one's record layout
//! (`events/CATEGORY/NAME/format`).

use std::path::{Path, PathBuf};

use super::DiscoverError;
use crate::kernel::tracefs;

/// The text of tracefs `available_events`: one `category:name` per line.
pub fn available_events() -> Result<String, DiscoverError> {
    let path = tracefs::root()?.join("available_events");
    std::fs::read_to_string(&path).map_err(|e| DiscoverError::io(&path, e))
}

/// Whether the kernel has tracepoint `category:name` (its tracefs directory exists).
pub fn exists(category: &str, name: &str) -> Result<bool, DiscoverError> {
    let plain = |part: &str| !part.is_empty() && !part.contains(['/', '.']);
    Ok(plain(category)
        && plain(name)
        && tracefs::root()?
            .join("events")
            .join(category)
            .join(name)
            .is_dir())
}

/// `(category, name)` for each line of `available_events` text.
pub fn parse_events(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines()
        .filter_map(|line| line.trim_end().split_once(':'))
}

/// One field of a tracepoint record, as the format file describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracepointField {
    /// The C type, array bounds included (`char[16]`, `__data_loc char[]`, `const char *`).
    pub c_type: String,
    pub name: String,
    pub offset: u32,
    pub size: u32,
    pub signed: bool,
}

impl TracepointField {
    /// The kernel's `common_*` header every record starts with (`struct trace_entry`).
    pub fn is_common(&self) -> bool {
        self.name.starts_with("common_")
    }

    /// The field as a C declaration: `char prev_comm[16]`, `const char * filename`.
    pub fn declaration(&self) -> String {
        match self.c_type.find('[') {
            // Arrays put their bounds after the name, except `__data_loc` fields, whose type
            // only describes what the 4-byte offset/length word points to.
            Some(bracket) if !self.c_type.starts_with("__data_loc") => format!(
                "{} {}{}",
                self.c_type[..bracket].trim_end(),
                self.name,
                &self.c_type[bracket..]
            ),
            _ => format!("{} {}", self.c_type, self.name),
        }
    }
}

/// A tracepoint's format file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracepointFormat {
    pub category: String,
    pub name: String,
    /// The event id (`ID:` line), what perf_event_open takes.
    pub id: Option<u32>,
    pub fields: Vec<TracepointField>,
}

impl TracepointFormat {
    /// Reads `events/CATEGORY/NAME/format`; a tracepoint that does not exist is
    /// [`DiscoverError::NoSuchHook`].
    pub fn read(category: &str, name: &str) -> Result<Self, DiscoverError> {
        let hook = format!("tracepoint:{category}:{name}");
        // The parts become path components: refuse anything that would leave events/.
        let safe = |part: &str| !part.is_empty() && !part.contains('/') && part != "..";
        if !safe(category) || !safe(name) {
            return Err(DiscoverError::NoSuchHook {
                hook,
                hint: "a tracepoint is tracepoint:CATEGORY:NAME".to_owned(),
            });
        }
        let path = format_path(tracefs::root()?, category, name);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DiscoverError::NoSuchHook {
                    hook,
                    hint: format!(
                        "see `bpfhook list 'tracepoint:{category}:*'` for the tracepoints of \
                         this category, or `bpfhook list 'tracepoint:*{name}*'`"
                    ),
                })
            }
            Err(e) => return Err(DiscoverError::io(&path, e)),
        };
        Ok(Self::parse(category, name, &text))
    }

    /// Parses a format file; lines that are not `field:` lines are skipped, as are malformed
    /// ones, so a new kernel's additions cannot break the rest.
    pub fn parse(category: &str, name: &str, text: &str) -> Self {
        let id = text
            .lines()
            .find_map(|line| line.strip_prefix("ID:"))
            .and_then(|id| id.trim().parse().ok());
        let fields = text.lines().filter_map(parse_field_line).collect();
        Self {
            category: category.to_owned(),
            name: name.to_owned(),
            id,
            fields,
        }
    }
}

fn format_path(root: &Path, category: &str, name: &str) -> PathBuf {
    root.join("events").join(category).join(name).join("format")
}

/// `\tfield:const char * filename;\toffset:16;\tsize:8;\tsigned:0;`
fn parse_field_line(line: &str) -> Option<TracepointField> {
    let rest = line.trim_start().strip_prefix("field:")?;
    let mut parts = rest.split(';').map(str::trim);
    let declaration = parts.next()?;
    let mut number = |key: &str| -> Option<u32> { parts.next()?.strip_prefix(key)?.parse().ok() };
    let offset = number("offset:")?;
    let size = number("size:")?;
    let signed = number("signed:")? != 0;
    let (c_type, name) = split_declaration(declaration)?;
    Some(TracepointField {
        c_type,
        name,
        offset,
        size,
        signed,
    })
}

/// `char prev_comm[16]` → (`char[16]`, `prev_comm`); `__data_loc char[] filename` →
/// (`__data_loc char[]`, `filename`); `const char * filename` → (`const char *`, `filename`).
fn split_declaration(declaration: &str) -> Option<(String, String)> {
    let (head, bounds) = match declaration.rfind('[') {
        // Bounds after the name (`comm[16]`), not inside the type (`char[] filename`).
        Some(i) if declaration.ends_with(']') => (&declaration[..i], &declaration[i..]),
        _ => (declaration, ""),
    };
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let name_start = head.trim_end().rfind(|c: char| !is_ident(c))? + 1;
    let name = head.trim_end().get(name_start..)?;
    if name.is_empty() {
        return None;
    }
    let c_type = format!("{}{bounds}", head[..name_start].trim_end());
    Some((c_type, name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHED_PROCESS_EXEC: &str = "name: sched_process_exec
ID: 316
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;
\tfield:char comm[16];\toffset:12;\tsize:16;\tsigned:0;
\tfield:const char *const * argv;\toffset:32;\tsize:8;\tsigned:0;
\tfield:broken
\tfield:pid_t pid;\toffset:40;\tsize:4;\tsigned:1;

print fmt: \"filename=%s\", __get_str(filename)
";

    #[test]
    fn parses_fields_types_and_layout() {
        let format = TracepointFormat::parse("sched", "sched_process_exec", SCHED_PROCESS_EXEC);
        assert_eq!(format.id, Some(316));
        let summary: Vec<(&str, &str, u32, u32, bool)> = format
            .fields
            .iter()
            .map(|f| {
                (
                    f.c_type.as_str(),
                    f.name.as_str(),
                    f.offset,
                    f.size,
                    f.signed,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("unsigned short", "common_type", 0, 2, false),
                ("int", "common_pid", 4, 4, true),
                ("__data_loc char[]", "filename", 8, 4, false),
                ("char[16]", "comm", 12, 16, false),
                ("const char *const *", "argv", 32, 8, false),
                ("pid_t", "pid", 40, 4, true),
            ]
        );
        assert_eq!(format.fields[3].declaration(), "char comm[16]");
        assert_eq!(format.fields[2].declaration(), "__data_loc char[] filename");
        assert!(format.fields[1].is_common() && !format.fields[5].is_common());
    }

    #[test]
    fn parses_event_lines() {
        let events: Vec<_> =
            parse_events("syscalls:sys_enter_openat\nsched:sched_switch\nbad\n").collect();
        assert_eq!(
            events,
            [("syscalls", "sys_enter_openat"), ("sched", "sched_switch")]
        );
    }
}
