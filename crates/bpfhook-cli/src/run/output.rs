//! What `bpfhook run` prints: one line per attach, printk line, record, loss, per-map summary and
//! map entry — as text for people, or (`--json`) one JSON object per line for jq and log
//! pipelines, with a `type` field saying what each object is.

use std::io::Write;

use anyhow::Result;
use bpfhook::decode::{Record, RecordDecoder, Value};
use bpfhook::events::{ChannelStats, Event};
use bpfhook::inspect::maps::{CpuValue, MapDump};
use bpfhook::maps;
use serde_json::json;

pub struct Output<W: Write> {
    out: W,
    json: bool,
    decoder: RecordDecoder,
}

impl<W: Write> Output<W> {
    pub fn new(out: W, json: bool, decoder: RecordDecoder) -> Self {
        Self { out, json, decoder }
    }

    fn line(&mut self, value: serde_json::Value) -> Result<()> {
        writeln!(self.out, "{value}")?;
        Ok(())
    }

    pub fn attached(&mut self, program: &str, hook: &str) -> Result<()> {
        if self.json {
            return self.line(json!({"type": "attached", "program": program, "hook": hook}));
        }
        writeln!(self.out, "attached {hook} (prog {program})")?;
        Ok(())
    }

    pub fn failed(&mut self, program: &str, hook: &str, error: &str) -> Result<()> {
        if self.json {
            return self
                .line(json!({"type": "failed", "program": program, "hook": hook, "error": error}));
        }
        writeln!(self.out, "failed {hook} (prog {program}): {error}")?;
        Ok(())
    }

    /// What an iterator program wrote into its file (bpf_seq_printf) on one walk: as is in
    /// text, one object with the whole text in JSON.
    pub fn iterator(&mut self, program: &str, text: &str) -> Result<()> {
        if self.json {
            return self.line(json!({"type": "iterator", "program": program, "text": text}));
        }
        self.out.write_all(text.as_bytes())?;
        Ok(())
    }

    /// Detach notices exist in JSON only: in text, the end of the output says as much.
    pub fn detached(&mut self, program: &str) -> Result<()> {
        if self.json {
            self.line(json!({"type": "detached", "program": program}))?;
        }
        Ok(())
    }

    /// Says once, before any record, which type records are decoded as and where it was found
    /// (the object's BTF, or its DWARF when BTF lacks the type); nothing when they stay hex.
    pub fn record_type(&mut self) -> Result<()> {
        let Some(record) = self.decoder.record_type() else {
            return Ok(());
        };
        let (kind, name, size, source, by_size) = (
            record.kind(),
            record.name(),
            record.size(),
            record.source().to_string(),
            record.by_size(),
        );
        if self.json {
            return self.line(json!({
                "type": "record_type",
                "name": format!("{kind} {name}"),
                "size": size,
                "source": source,
                "by_size": by_size,
            }));
        }
        let how = if by_size {
            ", the only struct of the size the programs send"
        } else {
            ""
        };
        writeln!(
            self.out,
            "records typed as {kind} {name} ({size} bytes, from {source}{how})"
        )?;
        Ok(())
    }

    pub fn event(&mut self, event: Event<'_>) -> Result<()> {
        match event {
            Event::Printk(line) if self.json => self.line(json!({
                "type": "printk",
                "pid": line.pid,
                "comm": line.comm,
                "cpu": line.cpu,
                "timestamp": line.timestamp,
                "message": line.message,
            })),
            Event::Printk(line) => {
                writeln!(
                    self.out,
                    "{}-{} [{:03}] {}: {}",
                    line.comm, line.pid, line.cpu, line.timestamp, line.message
                )?;
                Ok(())
            }
            Event::Record { map, cpu, data } => self.record(map, cpu, data),
            Event::Lost { map, cpu, count } if self.json => {
                self.line(json!({"type": "lost", "map": map, "cpu": cpu, "count": count}))
            }
            Event::Lost { map, cpu, count } => {
                writeln!(self.out, "lost map={map} cpu={cpu} count={count}")?;
                Ok(())
            }
        }
    }

    fn record(&mut self, map: &str, cpu: Option<u32>, data: &[u8]) -> Result<()> {
        let record = self.decoder.decode(data);
        if self.json {
            let mut object = json!({"type": "event", "map": map});
            if let Some(cpu) = cpu {
                object["cpu"] = json!(cpu);
            }
            match record {
                Record::Typed(value) => object["data"] = serde_json::to_value(&value)?,
                Record::Untyped(bytes) => object["data"] = serde_json::to_value(Value::Hex(bytes))?,
                Record::TooShort { expected, bytes } => {
                    object["undecodable"] = json!(self.too_short(bytes.len(), expected));
                    object["data"] = serde_json::to_value(Value::Hex(bytes))?;
                }
            }
            return self.line(object);
        }
        write!(self.out, "event map={map}")?;
        match record {
            // A struct's members flatten into field=value pairs on the line.
            Record::Typed(Value::Struct(members)) => {
                for (name, value) in members {
                    if name.is_empty() {
                        // An anonymous struct or union member: its own braces say what it is.
                        write!(self.out, " {value}")?;
                    } else {
                        write!(self.out, " {name}={value}")?;
                    }
                }
            }
            Record::Typed(value) => write!(self.out, " value={value}")?,
            Record::Untyped(bytes) => {
                write!(self.out, " len={} {}", bytes.len(), maps::hex(&bytes))?
            }
            Record::TooShort { expected, bytes } => {
                let why = self.too_short(bytes.len(), expected);
                write!(self.out, " undecodable ({why}) {}", maps::hex(&bytes))?
            }
        }
        writeln!(self.out)?;
        Ok(())
    }

    fn too_short(&self, len: usize, expected: usize) -> String {
        let name = self
            .decoder
            .record_type()
            .map_or("the record type", |record| record.name());
        format!("{len} bytes, {name} is {expected}")
    }

    pub fn summary(&mut self, stats: &ChannelStats) -> Result<()> {
        if self.json {
            let mut object = json!({
                "type": "summary",
                "map": stats.map,
                "events": stats.records,
                "lost": stats.lost,
            });
            if let Some(missing) = stats.seq_missing {
                object["seq_missing"] = json!(missing);
            }
            return self.line(object);
        }
        write!(
            self.out,
            "records: map={} events={} lost={}",
            stats.map, stats.records, stats.lost
        )?;
        if let Some(missing) = stats.seq_missing {
            write!(self.out, " seq_missing={missing}")?;
        }
        writeln!(self.out)?;
        Ok(())
    }

    pub fn map(&mut self, dump: &MapDump) -> Result<()> {
        if self.json {
            let mut entries = serde_json::to_value(&dump.entries)?;
            for (entry, json) in dump
                .entries
                .iter()
                .zip(entries.as_array_mut().into_iter().flatten())
            {
                if let Some(sum) = entry.values.as_deref().and_then(per_cpu_sum) {
                    json["sum"] = json!(sum.to_string());
                }
            }
            return self.line(
                json!({"type": "map", "name": dump.name, "id": dump.id, "entries": entries}),
            );
        }
        writeln!(
            self.out,
            "\nmap {} (id {}, {} entries):",
            dump.name,
            dump.id,
            dump.entries.len()
        )?;
        for entry in &dump.entries {
            match (&entry.value, &entry.values) {
                (Some(value), _) => writeln!(self.out, "  key: {}  value: {}", entry.key, value)?,
                (None, Some(values)) => {
                    writeln!(self.out, "  key: {}", entry.key)?;
                    for v in values {
                        writeln!(self.out, "    cpu{}: {}", v.cpu, v.value)?;
                    }
                    if let Some(sum) = per_cpu_sum(values) {
                        writeln!(self.out, "    sum: {sum}")?;
                    }
                }
                (None, None) => writeln!(self.out, "  key: {}", entry.key)?,
            }
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

/// The total of per-CPU integer values (a per-CPU counter's real value); None for other types.
fn per_cpu_sum(values: &[CpuValue]) -> Option<i128> {
    values.iter().try_fold(0i128, |sum, v| match v.value {
        Value::Signed(n) => sum.checked_add(n),
        Value::Unsigned(n) => sum.checked_add(i128::try_from(n).ok()?),
        _ => None,
    })
}
