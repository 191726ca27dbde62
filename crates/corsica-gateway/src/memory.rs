//! Returning memory to the system after a burst of connections.
//!
//! An active HTTP/1.1 connection holds hyper's buffers (8 KiB and more to read, its writes,
//! an upstream connection's); a parked one about 3.5 KB (its task, socket and slot; see
//! `connection.rs`). But glibc's allocator keeps what was freed in the middle of its heaps
//! for reuse and gives back only the top of a heap: after thousands of clients made a
//! request and went idle (or away), the process kept the peak (18 kB per connection
//! measured, where 3.5 kB were in use). Here a task counts the connections that are
//! active (open, not parked) once a second, and when many fewer are active than at the
//! last peak, asks glibc to give its free pages back (`malloc_trim(0)`, which also
//! releases free pages inside the heaps, with `madvise`). Other allocators and platforms:
//! nothing.

use std::time::Duration;

use prometheus::IntGauge;
use tokio::sync::watch;

/// How often the active connections are counted.
const EVERY: Duration = Duration::from_secs(1);

/// How many fewer connections must be active than at the last peak for a trim.
const DROP: i64 = 256;

/// Starts the trimmer, which runs until `stop` changes. `open` and `parked` are the
/// gauges of the client connections.
pub(crate) fn spawn_trimmer(open: IntGauge, parked: IntGauge, mut stop: watch::Receiver<bool>) {
    if !TRIM_SUPPORTED {
        return;
    }
    tokio::spawn(async move {
        let mut peak = 0i64;
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            let active = open.get() - parked.get();
            peak = peak.max(active);
            if peak - active >= DROP {
                peak = active;
                let _ = tokio::task::spawn_blocking(trim).await;
            }
        }
    });
}

/// Whether this build can give memory back ([`trim`] does something).
const TRIM_SUPPORTED: bool = cfg!(all(target_os = "linux", target_env = "gnu"));

/// Gives the allocator's free pages back to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() {
    // SAFETY: `malloc_trim` takes no pointer and only releases memory that glibc's
    // allocator holds free; it may be called from any thread at any time (it takes the
    // arenas' locks).
    let released = unsafe { libc::malloc_trim(0) };
    tracing::debug!(target: "corsica::gateway", released = released != 0, "gave free memory back to the system (malloc_trim)");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
