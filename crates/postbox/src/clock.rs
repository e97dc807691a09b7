//! Reading the clock and the host identity: the driver's job, never the engine's.

use std::time::{SystemTime, UNIX_EPOCH};

use postbox_core::{Credentials, Timestamp};

/// The current wall-clock time as the engine's timestamp.
pub(crate) fn now() -> Timestamp {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_nanos(u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX))
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
