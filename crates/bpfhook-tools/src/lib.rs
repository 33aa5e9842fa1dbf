//! bpfhook-tools: BCC's most used tools, each a bpftrace-language script shipped inside the
//! binary (`scripts/NAME.bt`), compiled by `bpfhook-lang` (no clang, no LLVM) and run with the
//! tool's own [`Output`](bpfhook_lang::output::Output): records (tuples the script prints)
//! become BCC's columns or one JSON object per line; maps printed at exit or per interval
//! become BCC's `print_log2_hist` histograms, stacks or folded lines.
//!
//! One module per tool turns its options into script parameters (and, where the option changes
//! the program's shape, a small edit of the script text), then [`launch::run`] compiles and
//! runs it.

pub mod bashreadline;
pub mod biolatency;
pub mod biosnoop;
mod catalog;
pub mod exitsnoop;
mod fields;
mod hist;
mod histograms;
pub mod irqs;
pub mod killsnoop;
pub mod launch;
pub mod mountsnoop;
pub mod offcputime;
pub mod opensnoop;
pub mod profile;
mod report;
pub mod runqlen;
pub mod sched;
mod signals;
pub mod stacks;
pub mod syscount;
pub mod tcp;

pub use catalog::{script, tools, ToolInfo};
pub use histograms::Schedule;
pub use launch::{Launch, ToolError};
