//! Tokens of the bpftrace language (filled in by the front end).
