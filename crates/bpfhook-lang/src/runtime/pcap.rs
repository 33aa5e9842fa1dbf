//! `skboutput()`'s pcap files, as bpftrace writes them: the classic format (microsecond
//! timestamps), link type RAW (packets start at their IP header: the call's offset skips
//! what comes before, such as an Ethernet header), one file per distinct path, created
//! (truncated) before the probes attach.

use std::fs::File;
use std::io::{self, Write};

use crate::codegen::PACKET_HEADER_SIZE;
use crate::sema::PcapOutput;

const MAGIC_MICROSECONDS: u32 = 0xa1b2_c3d4;
const LINKTYPE_RAW: u32 = 101;
const SNAPLEN: u32 = 65535;

#[derive(Debug, thiserror::Error)]
#[error("pcap file {path}: {error}")]
pub struct PcapError {
    pub path: String,
    #[source]
    pub error: io::Error,
}

struct PcapFile {
    path: String,
    file: File,
}

/// The open files and, per `skboutput()` call, its file and offset.
pub struct PcapFiles {
    files: Vec<PcapFile>,
    calls: Vec<(usize, u32)>,
    /// Boot-time clock to wall clock: the programs stamp packets with bpf_ktime_get_boot_ns.
    boot_to_wall_ns: i128,
}

impl PcapFiles {
    pub fn create(outputs: &[PcapOutput]) -> Result<Self, PcapError> {
        let mut files: Vec<PcapFile> = Vec::new();
        let mut calls = Vec::new();
        for output in outputs {
            let index = match files.iter().position(|f| f.path == output.path) {
                Some(index) => index,
                None => {
                    let failed = |error| PcapError {
                        path: output.path.clone(),
                        error,
                    };
                    let mut file = File::create(&output.path).map_err(failed)?;
                    file.write_all(&global_header()).map_err(failed)?;
                    files.push(PcapFile {
                        path: output.path.clone(),
                        file,
                    });
                    files.len() - 1
                }
            };
            calls.push((index, output.offset));
        }
        Ok(Self {
            files,
            calls,
            boot_to_wall_ns: clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_BOOTTIME),
        })
    }

    /// One record of the packets map: the header `skboutput()` wrote, then the packet (the
    /// perf sample may be padded past it).
    pub fn write(&mut self, record: &[u8]) -> Result<(), PcapError> {
        let Some(header) = record.get(..PACKET_HEADER_SIZE as usize) else {
            return Ok(());
        };
        let word = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().unwrap());
        let (call, len) = (word(0) as usize, word(4) as usize);
        let boot_ns = u64::from_le_bytes(header[8..16].try_into().unwrap());
        let Some(&(file, offset)) = self.calls.get(call) else {
            return Ok(());
        };
        let packet = &record[PACKET_HEADER_SIZE as usize..];
        let Some(packet) = packet.get(offset as usize..len.min(packet.len())) else {
            // Nothing past the offset: nothing to dump (as bpftrace).
            return Ok(());
        };
        let file = &mut self.files[file];
        let bytes = record_bytes(i128::from(boot_ns) + self.boot_to_wall_ns, packet);
        file.file.write_all(&bytes).map_err(|error| PcapError {
            path: file.path.clone(),
            error,
        })
    }
}

fn global_header() -> Vec<u8> {
    [
        &MAGIC_MICROSECONDS.to_le_bytes()[..],
        &2u16.to_le_bytes(), // version 2.4
        &4u16.to_le_bytes(),
        &0i32.to_le_bytes(), // time zone: UTC
        &0u32.to_le_bytes(), // timestamp accuracy
        &SNAPLEN.to_le_bytes(),
        &LINKTYPE_RAW.to_le_bytes(),
    ]
    .concat()
}

/// A packet record: seconds, microseconds, captured length (at most the snapshot length),
/// original length, the captured bytes.
fn record_bytes(wall_ns: i128, packet: &[u8]) -> Vec<u8> {
    let wall_ns = wall_ns.max(0);
    let seconds = (wall_ns / 1_000_000_000) as u32;
    let micros = (wall_ns % 1_000_000_000 / 1000) as u32;
    let captured = &packet[..packet.len().min(SNAPLEN as usize)];
    let mut bytes = Vec::with_capacity(16 + captured.len());
    for word in [seconds, micros, captured.len() as u32, packet.len() as u32] {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes.extend_from_slice(captured);
    bytes
}

fn clock_ns(clock: libc::clockid_t) -> i128 {
    // SAFETY: clock_gettime writes one timespec.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(clock, &mut ts);
        ts
    };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_classic_pcap() {
        let header = global_header();
        assert_eq!(header.len(), 24);
        assert_eq!(&header[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes(header[20..24].try_into().unwrap()), 101);
        let record = record_bytes(3_000_004_999, &[0x45, 0, 0, 20]);
        assert_eq!(&record[..4], &3u32.to_le_bytes());
        assert_eq!(&record[4..8], &4u32.to_le_bytes());
        assert_eq!(&record[8..16], &[4, 0, 0, 0, 4, 0, 0, 0]);
        assert_eq!(&record[16..], &[0x45, 0, 0, 20]);
    }

    #[test]
    fn offsets_skip_bytes_and_padding_is_left_out() {
        let dir = std::env::temp_dir().join(format!("bpfhook-pcap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.pcap").to_string_lossy().into_owned();
        let mut files = PcapFiles::create(&[
            PcapOutput {
                path: path.clone(),
                offset: 2,
            },
            PcapOutput {
                path: path.clone(),
                offset: 9,
            },
        ])
        .unwrap();
        let sample = |call: u32| {
            let mut r = call.to_le_bytes().to_vec();
            r.extend_from_slice(&5u32.to_le_bytes());
            r.extend_from_slice(&1u64.to_le_bytes());
            r.extend_from_slice(&[1, 2, 3, 4, 5, 0, 0, 0]); // 5 bytes, padded
            r
        };
        files.write(&sample(0)).unwrap();
        files.write(&sample(1)).unwrap(); // offset past the packet: nothing
        drop(files);
        let written = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(written.len(), 24 + 16 + 3);
        assert_eq!(&written[24 + 8..24 + 16], &[3, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(&written[40..], &[3, 4, 5]);
    }
}
