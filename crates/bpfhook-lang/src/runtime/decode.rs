//! Bytes the programs wrote (event records, map keys and values) → output values, through the
//! same types and layouts the code generator used.

use std::collections::HashMap;

use bpfhook::symbolize::{KernelSymbolizer, SourceInfo, SourceLine, UserSymbolizer};

use crate::output::Value;
use crate::types::{StackMode, StackSpec, Type, TRUNCATED};

/// Turns bytes into values; holds the symbolizers and the stack map, so stacks and symbols
/// resolve through one cache for the whole run.
pub struct Decoder {
    kernel: Option<KernelSymbolizer>,
    kernel_failed: bool,
    user: UserSymbolizer,
    /// Stack frames by stack id, read from the stack map by the runtime.
    pub stacks: Option<Box<dyn Fn(i64) -> Vec<u64>>>,
    pub strftime_formats: Vec<String>,
    /// CLOCK_REALTIME − CLOCK_MONOTONIC in ns: turns `nsecs` into wall-clock time.
    boot_offset_ns: i128,
    names: HashMap<u64, String>,
    /// What follows a string that filled its `str()` buffer (`..`).
    trailer: String,
    /// User frames end in `@file:line` where DWARF has it.
    source_lines: bool,
}

impl Decoder {
    pub fn new(strftime_formats: Vec<String>, settings: &crate::sema::Settings) -> Self {
        Self {
            trailer: settings.str_trunc_trailer.clone(),
            source_lines: settings.show_debug_info,
            kernel: None,
            kernel_failed: false,
            user: UserSymbolizer::new(),
            stacks: None,
            strftime_formats,
            boot_offset_ns: boot_offset_ns(),
            names: HashMap::new(),
        }
    }

    /// A probed executable: user addresses of processes gone before they were read are
    /// looked up in it (see [`UserSymbolizer::add_program`]).
    pub fn add_program(&mut self, path: &std::path::Path) {
        self.user.add_program(path);
    }

    fn kernel_symbol(&mut self, address: u64) -> Option<String> {
        if self.kernel.is_none() && !self.kernel_failed {
            match KernelSymbolizer::new() {
                Ok(k) => self.kernel = Some(k),
                Err(_) => self.kernel_failed = true,
            }
        }
        let symbol = self.kernel.as_ref()?.symbolize(address)?;
        Some(symbol.name().to_owned())
    }

    fn user_symbol(&mut self, pid: u32, address: u64) -> Option<String> {
        let symbol = self.user.symbolize(pid, address)?;
        Some(symbol.name().to_owned())
    }

    /// Decodes a value of `ty` from the start of `bytes` (short input decodes as zeros).
    pub fn value(&mut self, bytes: &[u8], ty: &Type) -> Value {
        match ty {
            Type::None => Value::None,
            Type::Int(int) => {
                let raw = read_uint(bytes, int.bytes() as usize);
                if int.signed {
                    Value::Int(sign_extend(raw, int.bits))
                } else {
                    Value::UInt(raw)
                }
            }
            Type::Bool => Value::Bool(bytes.first().copied().unwrap_or(0) != 0),
            Type::Enum(e) => {
                let raw = sign_extend(read_uint(bytes, usize::from(e.bits / 8)), e.bits);
                match e.name_of(raw) {
                    Some(name) => Value::Symbol {
                        name: name.to_owned(),
                        number: raw as u64,
                    },
                    None => Value::Int(raw),
                }
            }
            Type::Str(n) => Value::Str(self.string(&bytes[..bytes.len().min(*n as usize)])),
            Type::Buffer(_) => {
                let len = bytes.first().copied().unwrap_or(0) as usize;
                let data = bytes.get(1..1 + len).unwrap_or_default();
                Value::Buffer(data.to_vec())
            }
            Type::Tuple(layout) => Value::Tuple(
                layout
                    .fields
                    .iter()
                    .map(|f| self.value(bytes.get(f.offset as usize..).unwrap_or_default(), &f.ty))
                    .collect(),
            ),
            Type::Record(record) => Value::Record(
                record
                    .layout
                    .fields
                    .iter()
                    .map(|f| {
                        let at = bytes.get(f.offset as usize..).unwrap_or_default();
                        let value = match f.bits {
                            Some(bits) => {
                                let word = read_uint(at, bits.word_bytes() as usize);
                                let raw = bits.extract(word, f.ty.is_signed());
                                self.value(&raw.to_le_bytes(), &f.ty)
                            }
                            None => self.value(at, &f.ty),
                        };
                        (f.name.clone(), value)
                    })
                    .collect(),
            ),
            Type::Array(element, n) => {
                let size = element.size() as usize;
                Value::Array(
                    (0..*n as usize)
                        .map(|i| self.value(bytes.get(i * size..).unwrap_or_default(), element))
                        .collect(),
                )
            }
            // Pointers print in hex, as bpftrace prints them; %d and JSON take the number.
            Type::Pointer(_) => {
                let address = read_uint(bytes, 8);
                Value::Symbol {
                    name: format!("0x{address:x}"),
                    number: address,
                }
            }
            Type::Addr => Value::UInt(read_uint(bytes, 8)),
            Type::Float(_) => Value::None,
            Type::CgroupPath => Value::Str(cgroup_path(read_uint(bytes, 8))),
            Type::Username => {
                let uid = read_uint(bytes, 8) as u32;
                Value::Str(user_name(uid).unwrap_or_else(|| uid.to_string()))
            }
            Type::Errno => {
                let errno = read_uint(bytes, 8) as i32;
                Value::Str(super::os_reason(&std::io::Error::from_raw_os_error(errno)))
            }
            Type::Ksym => {
                let address = read_uint(bytes, 8);
                Value::Str(
                    self.kernel_symbol(address)
                        .unwrap_or_else(|| format!("0x{address:x}")),
                )
            }
            Type::Usym => {
                let address = read_uint(bytes, 8);
                let pid = read_uint(bytes.get(8..).unwrap_or_default(), 8) as u32;
                Value::Str(
                    self.user_symbol(pid, address)
                        .unwrap_or_else(|| format!("0x{address:x}")),
                )
            }
            Type::Kstack(spec) => {
                let id = sign_extend(read_uint(bytes, 8), 64);
                self.stack(id, None, *spec)
            }
            Type::Ustack(spec) => {
                // The id is 32 bits; the next 32 are the frame count of `len()`.
                let id = sign_extend(read_uint(bytes, 4), 32);
                let pid = read_uint(bytes.get(8..).unwrap_or_default(), 8) as u32;
                self.stack(id, Some(pid), *spec)
            }
            Type::Timestamp => {
                let index = read_uint(bytes, 8) as usize;
                let ns = read_uint(bytes.get(8..).unwrap_or_default(), 8);
                let format = self
                    .strftime_formats
                    .get(index)
                    .cloned()
                    .unwrap_or_default();
                Value::Str(self.strftime(&format, ns))
            }
            Type::Inet => Value::Str(inet(bytes)),
            Type::MacAddr => {
                let octets: Vec<String> = (0..6)
                    .map(|i| format!("{:02X}", bytes.get(i).copied().unwrap_or(0)))
                    .collect();
                Value::Str(octets.join(":"))
            }
        }
    }

    /// A stack as `spec` prints it: its innermost `spec.frames` frames, symbolized (kernel
    /// through kallsyms, user through the process's mapped files) or, in raw mode, as
    /// addresses.
    fn stack(&mut self, id: i64, pid: Option<u32>, spec: StackSpec) -> Value {
        let mut addresses = match &self.stacks {
            Some(read) if id >= 0 => read(id),
            _ => Vec::new(),
        };
        addresses.truncate(spec.frames as usize);
        if spec.mode == StackMode::Raw {
            let lines: String = addresses.iter().map(|a| format!("{a:x}\n")).collect();
            return Value::Str(format!("\n{lines}"));
        }
        // Unindented, one frame a line, as raw mode.
        if let (StackMode::BuildId, Some(pid)) = (spec.mode, pid) {
            let lines: String = addresses
                .into_iter()
                .map(|address| match self.user.file_location(pid, address) {
                    Some(at) => format!("{} 0x{:x}\n", at.build_id, at.file_offset),
                    None => format!("{address:x}\n"),
                })
                .collect();
            return Value::Str(format!("\n{lines}"));
        }
        let mut frames = Vec::new();
        for address in addresses {
            match pid {
                Some(pid) => self.user_frames(pid, address, spec.mode, &mut frames),
                None => {
                    let named = self.kernel_symbol_offset(address);
                    let named = named.map(|text| (text, "[kernel.kallsyms]"));
                    frames.push(frame_text(spec.mode, address, named));
                }
            }
        }
        Value::Stack(frames)
    }

    /// The lines one user address prints: with debug info, the functions inlined there
    /// (innermost first), then its symbol. A stack's frame limit counts addresses, not these.
    fn user_frames(&mut self, pid: u32, address: u64, mode: StackMode, frames: &mut Vec<String>) {
        let Some(symbol) = self.user.symbolize(pid, address) else {
            frames.push(frame_text(mode, address, None));
            return;
        };
        let source = if self.source_lines {
            self.user.source_info(pid, address)
        } else {
            SourceInfo::default()
        };
        // bpftrace's mode names the source lines too (perf's never does).
        let at = |line: Option<SourceLine>| match (mode, line) {
            (StackMode::Bpftrace, Some(line)) => format!("@{}:{}", line.file, line.line),
            _ => String::new(),
        };
        for inlined in source.inlined {
            frames.push(match mode {
                StackMode::Perf => format!("{address:x} {} (inlined)", inlined.function),
                _ => format!("[inlined] {}{}", inlined.function, at(inlined.line)),
            });
        }
        let text = format!("{symbol}{}", at(source.line));
        let module = symbol.module.as_deref().unwrap_or("[unknown]");
        frames.push(frame_text(mode, address, Some((text, module))));
    }

    fn kernel_symbol_offset(&mut self, address: u64) -> Option<String> {
        if let Some(name) = self.names.get(&address) {
            return Some(name.clone());
        }
        self.kernel_symbol(address)?;
        let symbol = self.kernel.as_ref()?.symbolize(address)?;
        let text = symbol.to_string();
        self.names.insert(address, text.clone());
        Some(text)
    }

    /// `strftime` of a monotonic time in ns, in local time.
    /// A string's bytes up to its NUL. One that filled its `str()` buffer ends in the marker
    /// instead, and may have been cut: the trailer goes in its place. (A C array the string
    /// fills, `char s[5]` holding "hello", is whole: it prints as it is.)
    fn string(&self, bytes: &[u8]) -> String {
        match bytes.split_last() {
            Some((&TRUNCATED, text)) if !text.contains(&0) => {
                format!("{}{}", String::from_utf8_lossy(text), self.trailer)
            }
            _ => c_string(bytes),
        }
    }

    pub fn strftime(&self, format: &str, monotonic_ns: u64) -> String {
        let wall_ns = i128::from(monotonic_ns) + self.boot_offset_ns;
        let seconds = (wall_ns / 1_000_000_000) as libc::time_t;
        let nanos = (wall_ns % 1_000_000_000) as u64;
        format_time(format, seconds, nanos)
    }
}

/// One frame's line, from its text and module: perf's `address text (module)`, else the text;
/// the address when nothing names it.
fn frame_text(mode: StackMode, address: u64, named: Option<(String, &str)>) -> String {
    match (mode, named) {
        (StackMode::Perf, Some((text, module))) => format!("{address:x} {text} ({module})"),
        (StackMode::Perf, None) => format!("{address:x} [unknown] ([unknown])"),
        (_, Some((text, _))) => text,
        (_, None) => format!("0x{address:x}"),
    }
}

/// Formats a wall-clock time with strftime(3), plus bpftrace's `%f` (microseconds).
pub fn format_time(format: &str, seconds: libc::time_t, nanos: u64) -> String {
    let format = format.replace("%f", &format!("{:06}", nanos / 1000));
    let Ok(c_format) = std::ffi::CString::new(format) else {
        return String::new();
    };
    // SAFETY: localtime_r fills `tm` from a valid time_t; strftime writes at most buf.len().
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&seconds, &mut tm);
        let mut buf = vec![0u8; 256];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), c_format.as_ptr(), &tm);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

fn boot_offset_ns() -> i128 {
    let now = |clock| {
        // SAFETY: clock_gettime writes one timespec.
        unsafe {
            let mut ts: libc::timespec = std::mem::zeroed();
            libc::clock_gettime(clock, &mut ts);
            i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
        }
    };
    now(libc::CLOCK_REALTIME) - now(libc::CLOCK_MONOTONIC)
}

/// A cgroup v2 id (its directory's inode) as bpftrace prints it: `unified:/PATH` for each
/// cgroup2 mount where a directory has that inode.
fn cgroup_path(id: u64) -> String {
    use std::os::unix::fs::MetadataExt;
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let roots = mounts.lines().filter_map(|l| {
        let mut fields = l.split_whitespace();
        let (_, dir, kind) = (fields.next()?, fields.next()?, fields.next()?);
        (kind == "cgroup2").then(|| std::path::PathBuf::from(dir))
    });
    for root in roots {
        let mut pending = vec![root.clone()];
        while let Some(dir) = pending.pop() {
            if std::fs::metadata(&dir).is_ok_and(|m| m.ino() == id) {
                let relative = dir.strip_prefix(&root).unwrap_or(&dir);
                return format!("unified:/{}", relative.display());
            }
            let entries = std::fs::read_dir(&dir).into_iter().flatten().flatten();
            pending.extend(
                entries
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
    }
    format!("unified:(cgroup {id} not found)")
}

/// The name of a user id, from the passwd database.
fn user_name(uid: u32) -> Option<String> {
    let mut buffer = vec![0 as libc::c_char; 4096];
    // SAFETY: getpwuid_r writes into `entry` and `buffer`, whose sizes it is given.
    unsafe {
        let mut entry: libc::passwd = std::mem::zeroed();
        let mut result = std::ptr::null_mut();
        libc::getpwuid_r(
            uid,
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        );
        if result.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr(entry.pw_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// `ntop`'s record: the address family, then the address bytes as they sit in memory.
fn inet(bytes: &[u8]) -> String {
    let family = read_uint(bytes, 8);
    let address = bytes.get(8..24).unwrap_or_default();
    match (family as i32, address.len()) {
        (libc::AF_INET, 16..) => {
            std::net::Ipv4Addr::new(address[0], address[1], address[2], address[3]).to_string()
        }
        (libc::AF_INET6, 16..) => {
            let octets: [u8; 16] = address[..16].try_into().unwrap_or([0; 16]);
            std::net::Ipv6Addr::from(octets).to_string()
        }
        _ => String::new(),
    }
}

/// A little-endian unsigned integer of `size` bytes (missing bytes read as zero).
pub fn read_uint(bytes: &[u8], size: usize) -> u64 {
    let mut buf = [0u8; 8];
    let n = size.min(8).min(bytes.len());
    buf[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(buf)
}

pub fn sign_extend(raw: u64, bits: u8) -> i64 {
    if bits >= 64 {
        return raw as i64;
    }
    let shift = 64 - u32::from(bits);
    ((raw << shift) as i64) >> shift
}

pub fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}
