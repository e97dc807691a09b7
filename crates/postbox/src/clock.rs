//! Reading the clock and the host identity: the driver's job, never the engine's.

use std::time::SystemTime;

use postbox_core::{Credentials, Timestamp};

/// The current wall-clock time as the engine's timestamp.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}

/// The uid and gid this OS process runs as, which in-process postbox processes take by default.
///
/// Read from the owner of `/proc/self` (Linux); where that is unavailable, the unprivileged
/// `nobody` identity, so that a missing `/proc` never silently grants root's bypass.
pub(crate) fn host_credentials() -> Credentials {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata("/proc/self") {
            return Credentials::new(meta.uid(), meta.gid());
        }
    }
    Credentials::new(65534, 65534)
}
