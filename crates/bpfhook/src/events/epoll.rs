//! The one wait: an epoll set over every output channel's fd, each tagged with a token.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct Epoll {
    fd: OwnedFd,
    ready: Vec<libc::epoll_event>,
}

impl Epoll {
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the result is checked before it is used as an fd.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            // SAFETY: epoll_create1 returned a new fd that nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            ready: Vec::new(),
        })
    }

    /// Watches `fd` for input (level-triggered: a channel drained only in part is reported again).
    pub(crate) fn add(&mut self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: both fds are open; `event` is a valid epoll_event for the call.
        let rc = unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut event,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        self.ready.push(libc::epoll_event { events: 0, u64: 0 });
        Ok(())
    }

    /// Waits up to `timeout` and returns the tokens of the ready fds (none on timeout or signal).
    pub(crate) fn wait(&mut self, timeout: Duration) -> io::Result<impl Iterator<Item = u64> + '_> {
        let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let capacity = i32::try_from(self.ready.len()).unwrap_or(i32::MAX);
        // SAFETY: `ready` has room for `capacity` events, and the kernel writes at most that many.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                self.ready.as_mut_ptr(),
                capacity,
                millis,
            )
        };
        let n = if n < 0 {
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
            // A signal (SIGINT for the CLI) ends the wait early: the caller checks its flags.
            0
        } else {
            usize::try_from(n).unwrap_or(0)
        };
        Ok(self.ready[..n].iter().map(|event| event.u64))
    }
}
