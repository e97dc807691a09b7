//! The report: `results.md` (targets, side-by-side ratios and tables), `results.json` (every repetition) and the
//! charts, written together into one directory.

mod chart;
mod format;
mod machine;
mod markdown;
mod pair;
mod results;
mod targets;
mod verdict;

pub use chart::write_charts;
pub use format::{axis, rate, ratio, sig3, table};
pub use machine::{Machine, iso_date, load_average};
pub use markdown::render;
pub use pair::{PAIRS, Pair};
pub use results::{CaseRecord, Outcome, Results, Settings, Summary};
pub use targets::{Bound, TARGETS, Target, judge, tally};
pub use verdict::Verdict;

use std::path::Path;

/// Writes `results.md`, `results.json`, `latency.svg` and `throughput.svg` into `dir`, creating
/// it if needed, with the targets judged afresh.
///
/// # Errors
///
/// A message naming the file that could not be written.
pub fn write(results: &mut Results, dir: &Path) -> Result<(), String> {
    results.targets = judge(results);
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write("results.md", render(results))?;
    let json = serde_json::to_string_pretty(results)
        .map_err(|e| format!("cannot encode the results: {e}"))?;
    write("results.json", json + "\n")?;
    write_charts(results, dir)
}
