//! How much a bounded queue of the comparison holds, so that buffering is comparable across
//! mechanisms that let us choose it (crossbeam, postbox).

/// The bytes a bounded queue holds before senders wait: 256 KiB, about what a Unix socket
/// buffers by default (`net.core.wmem_default` is 208 KiB).
pub const QUEUE_BYTES: usize = 256 << 10;

/// How many messages of `size` bytes a bounded queue holds: [`QUEUE_BYTES`] worth, but at least
/// 4 (so large messages still overlap) and at most 256.
pub fn queue_depth(size: usize) -> usize {
    (QUEUE_BYTES / size.max(1)).clamp(4, 256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_follows_the_byte_budget_within_bounds() {
        assert_eq!(queue_depth(64), 256);
        assert_eq!(queue_depth(4096), 64);
        assert_eq!(queue_depth(64 << 10), 4);
        assert_eq!(queue_depth(1 << 20), 4);
    }
}
