//! One performance target judged at one series and size, as `results.json` keeps it.
//!
//! Its own module because [`super::results`] stores the verdicts and [`super::targets`] produces
//! them from the results: with the verdict apart, the targets depend on the results and not the
//! other way round.

use serde::{Deserialize, Serialize};

use crate::plan::Series;

use super::format::ratio;

/// One target judged at one series and size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The target, as [`Target::describe`](crate::report::Target::describe) says it.
    pub target: String,
    /// The series.
    pub series: Series,
    /// The size, in bytes.
    pub size: usize,
    /// `subject / baseline` of the medians, when both were measured.
    pub ratio: Option<f64>,
    /// Whether the ratio is within the bound, when there is one.
    pub met: Option<bool>,
    /// Why there is no ratio.
    pub missing: Option<String>,
}

impl Verdict {
    /// The cell of the targets table: `2.10× met`, `0.31× **missed**`, or why not judged.
    pub fn cell(&self) -> String {
        match (self.ratio, self.met) {
            (Some(r), Some(true)) => format!("{} met", ratio(r)),
            (Some(r), _) => format!("{} **missed**", ratio(r)),
            _ => format!(
                "no data ({})",
                self.missing.as_deref().unwrap_or("not measured")
            ),
        }
    }
}
