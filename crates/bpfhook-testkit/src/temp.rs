//! A path removed when the test ends, pass or panic: a fresh scratch directory, or a path some
//! other program creates (a bpffs pin, an output file).

use std::path::{Path, PathBuf};

use crate::unique_name;

pub struct TempPath(PathBuf);

impl TempPath {
    /// A new, empty directory under the system's temporary directory.
    pub fn dir(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(unique_name(prefix));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        Self(path)
    }

    /// Takes charge of `path`, which may not exist yet.
    pub fn claim(path: impl Into<PathBuf>) -> Self {
        Self(path.into())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The path as a `&str`, for command lines.
    pub fn as_str(&self) -> &str {
        self.0.to_str().expect("temporary paths are UTF-8")
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = if self.0.is_dir() {
            std::fs::remove_dir_all(&self.0)
        } else {
            std::fs::remove_file(&self.0)
        };
    }
}

/// A shell script in a temporary file and the command that runs it, `/bin/bash FILE`: what
/// `bash -c '…'` says where a `-c` option splits its command at spaces (as bpftrace's does).
pub fn shell_script(body: &str) -> (TempPath, String) {
    let file = TempPath::claim(std::env::temp_dir().join(unique_name("bpfhook-sh")));
    std::fs::write(file.path(), body).unwrap_or_else(|e| panic!("writing {}: {e}", file.as_str()));
    let command = format!("/bin/bash {}", file.as_str());
    (file, command)
}
