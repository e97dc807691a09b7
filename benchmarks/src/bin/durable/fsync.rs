//! The disk's own cost of durability: how long `fsync` (`File::sync_data`) takes after a small
//! write, on the disk every system here writes to. The latency target is relative to it.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

/// The probe file's size: small writes go to one of its 4 KiB blocks in turn.
const BLOCKS: u64 = 16;

/// Times `samples` rounds of "overwrite 64 bytes in a block of a preallocated file, then
/// `sync_data`" (the sync alone is timed), in nanoseconds; the file is `DIR/fsync-probe`,
/// removed after.
///
/// # Errors
///
/// When the file cannot be written or synced.
pub(crate) fn measure(dir: &Path, samples: usize) -> Result<Vec<u64>> {
    let path = dir.join("fsync-probe");
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all_at(&vec![0; (BLOCKS * 4096) as usize], 0)?;
    file.sync_all().context("fsync of the probe file")?;
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples as u64 {
        file.write_all_at(&[i as u8; 64], (i % BLOCKS) * 4096)?;
        let began = Instant::now();
        file.sync_data().context("fsync of the probe file")?;
        times.push(u64::try_from(began.elapsed().as_nanos()).unwrap_or(u64::MAX));
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    Ok(times)
}
