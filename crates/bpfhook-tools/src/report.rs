//! The adapter between the runtime's [`Output`] and a tool: the tuples a script prints are
//! records, the maps it prints are tables; everything else a tool's script never prints.

use std::io::{self, Write};

use bpfhook_lang::output::{MapDump, Output, Value};

/// What a tool does with its script's output.
pub trait Report {
    /// Everything is attached: print the header.
    fn started(&mut self) -> io::Result<()>;
    /// One `print((a, b, …))` of the script (tools that only print maps have none).
    fn record(&mut self, _fields: &[Value]) -> io::Result<()> {
        Ok(())
    }
    /// A map printed by the script or dumped at exit.
    fn table(&mut self, _map: &MapDump) -> io::Result<()> {
        Ok(())
    }
    /// The run ended (before the maps left at exit print): summaries the tool kept itself.
    fn finished(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Text or JSON lines on one writer.
pub struct Sink {
    pub out: Box<dyn Write>,
    pub json: bool,
}

impl Sink {
    pub fn new(out: Box<dyn Write>, json: bool) -> Self {
        Self { out, json }
    }

    /// A text line the JSON form leaves out (a tool's banner).
    pub fn text_line(&mut self, text: &str) -> io::Result<()> {
        if self.json {
            return Ok(());
        }
        writeln!(self.out, "{text}")
    }

    /// Before an interval's report in text: an empty line, then its time (`-T`) if any.
    pub fn interval(&mut self, time: Option<&str>) -> io::Result<()> {
        if self.json {
            return Ok(());
        }
        writeln!(self.out)?;
        match time {
            Some(time) => writeln!(self.out, "{time}"),
            None => Ok(()),
        }
    }

    /// One JSON object on its own line.
    pub fn json_line(&mut self, object: serde_json::Value) -> io::Result<()> {
        writeln!(self.out, "{object}")
    }
}

/// Any [`Report`] as the runtime's [`Output`].
pub struct ReportOutput<R: Report>(pub R);

impl<R: Report> Output for ReportOutput<R> {
    fn attached(&mut self, _probes: u64) -> io::Result<()> {
        self.0.started()
    }

    fn printf(&mut self, text: &str) -> io::Result<()> {
        io::stderr().write_all(text.as_bytes())
    }

    fn value(&mut self, v: &Value) -> io::Result<()> {
        match v {
            Value::Tuple(fields) => self.0.record(fields),
            other => self.0.record(std::slice::from_ref(other)),
        }
    }

    fn map(&mut self, m: &MapDump, _top: usize, _div: u64) -> io::Result<()> {
        self.0.table(m)
    }

    fn time(&mut self, text: &str) -> io::Result<()> {
        self.printf(text)
    }

    fn join(&mut self, text: &str) -> io::Result<()> {
        self.printf(text)
    }

    fn cat(&mut self, text: &str) -> io::Result<()> {
        self.printf(text)
    }

    fn syscall(&mut self, text: &str) -> io::Result<()> {
        self.printf(text)
    }

    fn lost(&mut self, events: u64) -> io::Result<()> {
        writeln!(io::stderr(), "Possibly lost {events} samples")
    }

    fn end(&mut self) -> io::Result<()> {
        self.0.finished()
    }
}
