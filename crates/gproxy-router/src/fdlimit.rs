//! The open-file limit. Every client connection is a file descriptor (and
//! a stream usually one more upstream), and the usual soft limit of 1,024
//! runs out long before the machine does: `accept` then fails and real
//! requests wait. The binary raises the soft limit to the hard limit at
//! start; the accept loop keeps its connection cap within what is left.
//! Windows has no such limit on sockets: there both functions report
//! "unlimited" and change nothing.

use std::io;

#[cfg(unix)]
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// The soft limit before and after [`raise_open_file_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    /// The soft limit found (`None`: unlimited).
    pub before: Option<u64>,
    /// The soft limit now (`None`: unlimited).
    pub after: Option<u64>,
}

/// Raises the soft open-file limit to the hard limit.
#[cfg(unix)]
pub fn raise_open_file_limit() -> io::Result<Raised> {
    let limit = getrlimit(Resource::Nofile);
    let before = limit.current;
    if before == limit.maximum {
        return Ok(Raised {
            before,
            after: before,
        });
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    )?;
    Ok(Raised {
        before,
        after: getrlimit(Resource::Nofile).current,
    })
}

/// The soft open-file limit in force (`None`: unlimited).
#[cfg(unix)]
pub fn open_file_limit() -> Option<u64> {
    getrlimit(Resource::Nofile).current
}

/// No open-file limit to raise on this platform.
#[cfg(not(unix))]
pub fn raise_open_file_limit() -> io::Result<Raised> {
    Ok(Raised {
        before: None,
        after: None,
    })
}

/// No open-file limit on this platform (`None`: unlimited).
#[cfg(not(unix))]
pub fn open_file_limit() -> Option<u64> {
    None
}
