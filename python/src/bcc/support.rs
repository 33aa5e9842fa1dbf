//! Files every BCC compile shares, kept in the compile cache: compat.h, empty stand-ins for
//! the kernel headers BCC tools include (vmlinux.h already declares what they would), the
//! shadow and real precompiled headers (parsing vmlinux.h once, not per program, and keeping
//! its declarations out of the AST dump), and one header of tracepoint argument structs per
//! set of tracepoints a program names.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bpfhook::compile;
use bpfhook::discover::TracepointFormat;

use super::{io, write_if_changed, BccError};

const COMPAT_H: &str = include_str!("compat.h");

/// Kernel headers BCC tools include; each becomes an empty file on our include path.
const STUB_HEADERS: &[&str] = &[
    "uapi/linux/ptrace.h",
    "uapi/linux/bpf_perf_event.h",
    "uapi/linux/limits.h",
    "linux/ptrace.h",
    "linux/sched.h",
    "linux/fs.h",
    "linux/blkdev.h",
    "linux/blk-mq.h",
    "linux/blk_types.h",
    "linux/bpf.h",
    "linux/mm.h",
    "linux/nsproxy.h",
    "linux/pid_namespace.h",
    "linux/socket.h",
    "linux/tcp.h",
    "linux/ip.h",
    "linux/ipv6.h",
    "linux/in.h",
    "linux/in6.h",
    "linux/if_ether.h",
    "linux/skbuff.h",
    "linux/netdevice.h",
    "linux/types.h",
    "linux/version.h",
    "net/sock.h",
    "net/inet_sock.h",
    "net/tcp_states.h",
    "net/net_namespace.h",
    "bcc/proto.h",
];

pub struct Support {
    dir: PathBuf,
}

impl Support {
    /// Writes the shared files once per (compat.h, clang, kernel headers) combination.
    pub fn prepare() -> Result<Self, BccError> {
        let base = compile::clang_command()?;
        let mut key = blake3::Hasher::new();
        key.update(COMPAT_H.as_bytes());
        key.update(base.get_program().as_encoded_bytes());
        for arg in base.get_args() {
            key.update(arg.as_encoded_bytes()).update(b"\0");
        }
        let key = key.finalize().to_hex();
        let dir = compile::cache_dir().join("bcc").join(&key[..32]);
        let support = Self { dir };
        if !support.real_pch_path().is_file() {
            support.write_files()?;
        }
        Ok(support)
    }

    fn write_files(&self) -> Result<(), BccError> {
        let stubs = self.dir.join("include");
        for header in STUB_HEADERS {
            let path = stubs.join(header);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(io(format!("creating {}", parent.display())))?;
            }
            write_if_changed(&path, "/* bpfhook: provided by vmlinux.h */\n")?;
        }
        std::fs::create_dir_all(self.sources_dir())
            .map_err(io(format!("creating {}", self.dir.display())))?;
        let header = self.dir.join("compat.h");
        write_if_changed(&header, COMPAT_H)?;
        // The shadow header first: the real one's existence marks the directory complete.
        self.precompile(&header, &self.dir.join("shadow.pch"), &["-D__BCC_SHADOW"])?;
        // Same flags as compile() passes, or clang refuses the header.
        self.precompile(&header, &self.real_pch_path(), &["-g", "-O2"])
    }

    fn precompile(&self, header: &Path, output: &Path, flags: &[&str]) -> Result<(), BccError> {
        let temporary = output.with_extension(format!("tmp{}", std::process::id()));
        let result = compile::clang_command()?
            .args(flags)
            .args(["-x", "c-header"])
            .arg(header)
            .arg("-o")
            .arg(&temporary)
            .output()
            .map_err(io("running clang"))?;
        if !result.status.success() {
            return Err(BccError::Diagnostics {
                source_name: header.display().to_string(),
                diagnostics: String::from_utf8_lossy(&result.stderr).into_owned(),
            });
        }
        std::fs::rename(&temporary, output).map_err(io(format!("storing {}", output.display())))
    }

    fn real_pch_path(&self) -> PathBuf {
        self.dir.join("real.pch")
    }

    pub fn real_pch(&self) -> String {
        self.real_pch_path().display().to_string()
    }

    pub fn shadow_pch(&self) -> PathBuf {
        self.dir.join("shadow.pch")
    }

    pub fn sources_dir(&self) -> PathBuf {
        self.dir.join("src")
    }

    /// `-I` for the stub headers and `-include` for the tracepoint structs.
    pub fn include_flags(&self, tracepoints: &Path) -> Vec<String> {
        vec![
            "-I".to_owned(),
            self.dir.join("include").display().to_string(),
            "-include".to_owned(),
            tracepoints.display().to_string(),
        ]
    }

    /// `struct tracepoint__CAT__NAME` for each tracepoint the program names (through
    /// `TRACEPOINT_PROBE(CAT, NAME)` or a `tracepoint__CAT__NAME` identifier), laid out from
    /// the kernel's format file.
    pub fn tracepoint_header(&self, text: &str) -> Result<PathBuf, BccError> {
        let mut out = String::from("#pragma once\n");
        for (category, event, required) in named_tracepoints(text) {
            match TracepointFormat::read(&category, &event) {
                Ok(format) => write_struct(&mut out, &format),
                Err(error) if required => return Err(BccError::Tracepoint(error.to_string())),
                Err(_) => {}
            }
        }
        let key = blake3::hash(out.as_bytes()).to_hex();
        let path = self.sources_dir().join(format!("tp-{}.h", &key[..32]));
        write_if_changed(&path, &out)?;
        Ok(path)
    }
}

/// (category, event, required): `TRACEPOINT_PROBE(a, b)` must exist; a bare
/// `tracepoint__a__b` identifier may be something else.
fn named_tracepoints(text: &str) -> Vec<(String, String, bool)> {
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut found: Vec<(String, String, bool)> = Vec::new();
    let mut add = |category: &str, event: &str, required: bool| {
        if !found.iter().any(|(c, e, _)| c == category && e == event) {
            found.push((category.to_owned(), event.to_owned(), required));
        }
    };
    for (index, word) in words.iter().enumerate() {
        if *word == "TRACEPOINT_PROBE" {
            if let (Some(category), Some(event)) = (words.get(index + 1), words.get(index + 2)) {
                add(category, event, true);
            }
        } else if let Some((category, event)) = word
            .strip_prefix("tracepoint__")
            .and_then(|rest| rest.split_once("__"))
        {
            add(category, event, false);
        }
    }
    found
}

fn write_struct(out: &mut String, format: &TracepointFormat) {
    let _ = writeln!(
        out,
        "struct tracepoint__{}__{} {{",
        format.category, format.name
    );
    let mut fields = format.fields.clone();
    fields.sort_by_key(|f| f.offset);
    let mut at = 0;
    for field in &fields {
        if field.offset < at {
            continue;
        }
        if field.offset > at {
            let _ = writeln!(out, "\tchar __pad_{at}[{}];", field.offset - at);
        }
        if field.c_type.starts_with("__data_loc") {
            // Offset (low 16 bits) and length of the data, as BCC exposes it.
            let _ = writeln!(out, "\tint {};", field.name);
        } else {
            let _ = writeln!(out, "\t{};", field.declaration());
        }
        at = field.offset + field.size;
    }
    out.push_str("};\n");
}
