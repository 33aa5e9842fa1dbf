//! bpftrace's output: printf formatting, values, maps, histograms, as text or JSON.
//!
//! The runtime decodes records and maps into [`Value`]s and [`MapDump`]s and hands them to an
//! [`Output`]; [`TextOutput`] and [`JsonOutput`] write exactly what bpftrace writes.

mod gfp;
mod hist;
mod json;
mod map;
pub mod printf;
mod text;
mod tseries;
pub mod value;

use std::io::{self, Write};

pub use printf::{ArgKind, Format, FormatError, Spec};
pub use value::{Aggregate, MapDump, Value};

/// Where the runtime sends what a program prints. Every call writes whole lines (or, for
/// `printf`, exactly the formatted text) and reports write errors.
pub trait Output {
    /// `Attached N probes`, once everything is attached.
    fn attached(&mut self, probes: u64) -> io::Result<()>;
    /// The text of a `printf`.
    fn printf(&mut self, text: &str) -> io::Result<()>;
    /// `print(value)` of a non-map value.
    fn value(&mut self, v: &Value) -> io::Result<()>;
    /// `print(@m, top, div)` and the dump at exit (`top` 0: every entry; `div` 0: none).
    fn map(&mut self, m: &MapDump, top: usize, div: u64) -> io::Result<()>;
    /// The text of `time()` (already formatted, newline included).
    fn time(&mut self, text: &str) -> io::Result<()>;
    /// `join()` of an array, already joined.
    fn join(&mut self, text: &str) -> io::Result<()>;
    /// `cat()`: the file's contents.
    fn cat(&mut self, text: &str) -> io::Result<()>;
    /// `system()`: the command's output.
    fn syscall(&mut self, text: &str) -> io::Result<()>;
    /// Records the kernel dropped.
    fn lost(&mut self, events: u64) -> io::Result<()>;
    /// The probes are detached; the exit dump of the maps follows.
    fn end(&mut self) -> io::Result<()>;
    /// `--mode bench`: the result of benchmark `index` of `names` (text prints the table's
    /// header before the first). Sinks that never run benchmarks need not show them.
    fn benchmark(
        &mut self,
        names: &[String],
        index: usize,
        average_ns: u64,
        iterations: u64,
    ) -> io::Result<()> {
        let _ = (names, index, average_ns, iterations);
        Ok(())
    }
    /// `-k`: a helper failed where the program says; as bpftrace warns, on stderr.
    fn helper_error(&mut self, error: &HelperError) -> io::Result<()> {
        eprintln!("{}", error.text());
        Ok(())
    }
}

/// A helper that failed at run time, and where (`-k`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperError {
    pub helper: String,
    pub code: i64,
    /// The script's name (`stdin`), the line and column of the expression.
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// `stdin:1:37-41`.
    pub location: String,
    /// The source line and the expression underlined.
    pub excerpt: String,
}

impl HelperError {
    /// What went wrong, in bpftrace's words.
    pub fn message(&self) -> String {
        if self.code == 0 && self.helper == "map_lookup_elem" {
            return "Can't lookup map element because it does not exist.".to_owned();
        }
        let text = io::Error::from_raw_os_error(-self.code as i32).to_string();
        text.split(" (os error").next().unwrap_or(&text).to_owned()
    }

    /// The warning as text: place, message, the helper and its code, the source underlined.
    pub fn text(&self) -> String {
        format!(
            "{}: WARNING: {}\nAdditional Info - helper: {}, retcode: {}\n{}",
            self.location,
            self.message(),
            self.helper,
            self.code,
            self.excerpt
        )
    }
}

/// `-f text` or `-f json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

/// The sink for `format`: program output to `out`; in text, notices (attached probes, lost
/// events) to `err` as bpftrace writes them to stderr.
pub fn new_output(
    format: OutputFormat,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
) -> Box<dyn Output> {
    match format {
        OutputFormat::Text => Box::new(TextOutput { out, err }),
        OutputFormat::Json => Box::new(JsonOutput { out }),
    }
}

/// bpftrace's default output.
pub struct TextOutput<W: Write, E: Write> {
    pub out: W,
    pub err: E,
}

impl<W: Write, E: Write> Output for TextOutput<W, E> {
    fn attached(&mut self, probes: u64) -> io::Result<()> {
        let plural = if probes == 1 { "" } else { "s" };
        writeln!(self.err, "Attached {probes} probe{plural}")
    }

    fn printf(&mut self, text: &str) -> io::Result<()> {
        self.out.write_all(text.as_bytes())
    }

    fn value(&mut self, v: &Value) -> io::Result<()> {
        writeln!(self.out, "{}", v.to_text())
    }

    fn map(&mut self, m: &MapDump, top: usize, div: u64) -> io::Result<()> {
        self.out.write_all(text::map_text(m, top, div).as_bytes())
    }

    fn time(&mut self, text: &str) -> io::Result<()> {
        self.out.write_all(text.as_bytes())
    }

    fn join(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.out, "{text}")
    }

    fn cat(&mut self, text: &str) -> io::Result<()> {
        self.out.write_all(text.as_bytes())
    }

    fn syscall(&mut self, text: &str) -> io::Result<()> {
        // The command's own output, newlines and all.
        self.out.write_all(text.as_bytes())
    }

    fn lost(&mut self, events: u64) -> io::Result<()> {
        writeln!(self.err, "Lost {events} events")
    }

    fn benchmark(
        &mut self,
        names: &[String],
        index: usize,
        average_ns: u64,
        iterations: u64,
    ) -> io::Result<()> {
        self.out
            .write_all(text::benchmark_row(names, index, average_ns, iterations).as_bytes())
    }

    fn end(&mut self) -> io::Result<()> {
        // Two empty lines separate the run's output from the maps printed at exit.
        self.out.write_all(b"\n\n")
    }
}

/// `-f json`: one object per line.
pub struct JsonOutput<W: Write> {
    pub out: W,
}

impl<W: Write> JsonOutput<W> {
    fn string_record(&mut self, kind: &str, text: &str) -> io::Result<()> {
        writeln!(self.out, "{}", json::record(kind, &json::string(text)))
    }
}

impl<W: Write> Output for JsonOutput<W> {
    fn helper_error(&mut self, error: &HelperError) -> io::Result<()> {
        writeln!(
            self.out,
            r#"{{"type": "helper_error", "msg": {}, "helper": {}, "retcode": {}, "filename": {}, "line": {}, "col": {}}}"#,
            json::string(&error.message()),
            json::string(&error.helper),
            error.code,
            json::string(&error.file),
            error.line,
            error.column
        )
    }

    fn attached(&mut self, probes: u64) -> io::Result<()> {
        writeln!(
            self.out,
            r#"{{"type": "attached_probes", "count": {probes}, "data": {{"probes": {probes}}}}}"#
        )
    }

    fn printf(&mut self, text: &str) -> io::Result<()> {
        self.string_record("printf", text)
    }

    fn value(&mut self, v: &Value) -> io::Result<()> {
        writeln!(self.out, "{}", json::record("value", &json::value(v)))
    }

    fn map(&mut self, m: &MapDump, top: usize, div: u64) -> io::Result<()> {
        match json::map(m, top, div) {
            Some(line) => writeln!(self.out, "{line}"),
            None => Ok(()),
        }
    }

    fn time(&mut self, text: &str) -> io::Result<()> {
        self.string_record("time", text)
    }

    fn join(&mut self, text: &str) -> io::Result<()> {
        self.string_record("join", text)
    }

    fn cat(&mut self, text: &str) -> io::Result<()> {
        self.string_record("cat", text)
    }

    fn syscall(&mut self, text: &str) -> io::Result<()> {
        self.string_record("syscall", text)
    }

    fn lost(&mut self, events: u64) -> io::Result<()> {
        writeln!(
            self.out,
            r#"{{"type": "lost_events", "count": {events}, "data": {{"events": {events}}}}}"#
        )
    }

    fn benchmark(
        &mut self,
        names: &[String],
        index: usize,
        average_ns: u64,
        iterations: u64,
    ) -> io::Result<()> {
        let name = json::string(names.get(index).map_or("", String::as_str));
        let data = format!(r#"{{{name}: {{"average": {average_ns}, "iters": {iterations}}}}}"#);
        writeln!(self.out, "{}", json::record("benchmark_result", &data))
    }

    fn end(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_run(f: impl Fn(&mut dyn Output) -> io::Result<()>) -> (String, String) {
        let mut o = TextOutput {
            out: Vec::new(),
            err: Vec::new(),
        };
        f(&mut o).expect("writes to memory");
        (
            String::from_utf8_lossy(&o.out).into_owned(),
            String::from_utf8_lossy(&o.err).into_owned(),
        )
    }

    fn json_run(f: impl Fn(&mut dyn Output) -> io::Result<()>) -> String {
        let mut o = JsonOutput { out: Vec::new() };
        f(&mut o).expect("writes to memory");
        String::from_utf8_lossy(&o.out).into_owned()
    }

    #[test]
    fn text_notices_go_to_err() {
        let (out, err) = text_run(|o| {
            o.attached(1)?;
            o.attached(3)?;
            o.printf("hi!\n")?;
            o.value(&Value::Int(5))?;
            o.join("/bin/echo 'A'")?;
            o.lost(2)?;
            o.end()
        });
        assert_eq!(out, "hi!\n5\n/bin/echo 'A'\n\n\n");
        assert_eq!(err, "Attached 1 probe\nAttached 3 probes\nLost 2 events\n");
    }

    #[test]
    fn json_records() {
        let out = json_run(|o| {
            o.attached(1)?;
            o.printf("test \r \n \t \\ \" bar")?;
            o.time("12:00:01\n")?;
            o.syscall("a b c\n")?;
            o.join("/bin/echo,'A'")?;
            o.value(&Value::Str("Argument list too long".into()))?;
            o.value(&Value::Tuple(vec![
                Value::Int(1),
                Value::Int(2),
                Value::Str("string".into()),
            ]))?;
            o.lost(4)?;
            o.end()
        });
        let expected = [
            r#"{"type": "attached_probes", "count": 1, "data": {"probes": 1}}"#,
            r#"{"type": "printf", "data": "test \r \n \t \\ \" bar"}"#,
            r#"{"type": "time", "data": "12:00:01\n"}"#,
            r#"{"type": "syscall", "data": "a b c\n"}"#,
            r#"{"type": "join", "data": "/bin/echo,'A'"}"#,
            r#"{"type": "value", "data": "Argument list too long"}"#,
            r#"{"type": "value", "data": [1,2,"string"]}"#,
            r#"{"type": "lost_events", "count": 4, "data": {"events": 4}}"#,
        ];
        assert_eq!(out.lines().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn one_line_per_map() {
        let map = |name: &str, key: &str, v: i64| MapDump {
            name: name.into(),
            keyed: true,
            entries: vec![(
                vec![Value::Str(key.into())],
                Aggregate::Value(Value::Int(v)),
            )],
        };
        let out = json_run(|o| {
            o.map(&map("@map1", "key1", 2), 0, 0)?;
            o.map(&map("@map2", "key2", 3), 0, 0)
        });
        assert_eq!(
            out,
            "{\"type\": \"map\", \"data\": {\"@map1\": {\"key1\": 2}}}\n\
             {\"type\": \"map\", \"data\": {\"@map2\": {\"key2\": 3}}}\n"
        );
        let boxed = new_output(
            OutputFormat::Text,
            Box::new(io::sink()),
            Box::new(io::sink()),
        );
        drop(boxed);
    }
}
