//! The arithmetic of the report: latency percentiles within a run, median and spread across runs.

use serde::{Deserialize, Serialize};

/// The `q`-quantile (0 < q ≤ 1) of `sorted`, by the nearest-rank method: the smallest sample
/// such that at least `q` of all samples are at or below it. No interpolation, so the answer is
/// always a time that was measured. `None` when there are no samples.
///
/// # Panics
///
/// If `q` is not in (0, 1] (a caller bug).
pub fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    assert!(q > 0.0 && q <= 1.0, "quantile {q} out of (0, 1]");
    if sorted.is_empty() {
        return None;
    }
    // The rank is ceil(q * n), counted from 1. The product is exact for the quantiles used here
    // up to billions of samples; the clamp guards the ends.
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The distribution of one run's round-trip times.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// How many round trips were timed (the warm-up excluded).
    pub round_trips: u64,
    /// Median, in nanoseconds.
    pub p50_ns: u64,
    /// 99th percentile, in nanoseconds.
    pub p99_ns: u64,
    /// 99.9th percentile, in nanoseconds.
    pub p999_ns: u64,
    /// The fastest, in nanoseconds.
    pub min_ns: u64,
    /// The slowest, in nanoseconds.
    pub max_ns: u64,
    /// The mean, in nanoseconds.
    pub mean_ns: f64,
}

impl LatencySummary {
    /// Summarises round-trip times in nanoseconds, in any order; `None` when there are none.
    pub fn from_samples(mut samples: Vec<u64>) -> Option<LatencySummary> {
        samples.sort_unstable();
        let total: u128 = samples.iter().map(|&s| u128::from(s)).sum();
        Some(LatencySummary {
            round_trips: samples.len() as u64,
            p50_ns: percentile(&samples, 0.5)?,
            p99_ns: percentile(&samples, 0.99)?,
            p999_ns: percentile(&samples, 0.999)?,
            min_ns: *samples.first()?,
            max_ns: *samples.last()?,
            mean_ns: total as f64 / samples.len() as f64,
        })
    }
}

/// The middle and the extremes of one figure over a case's repetitions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; `None` when there are none (or one is NaN).
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut values: Vec<f64> = values.into_iter().collect();
        if values.is_empty() || values.iter().any(|v| v.is_nan()) {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: values[0],
            max: values[n - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_are_measured_values() {
        let samples: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&samples, 0.5), Some(50));
        assert_eq!(percentile(&samples, 0.99), Some(99));
        assert_eq!(percentile(&samples, 0.999), Some(100));
        assert_eq!(percentile(&samples, 1.0), Some(100));
        assert_eq!(percentile(&samples, 0.001), Some(1));
        assert_eq!(percentile(&[7], 0.5), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
        // 20,000 samples: p99.9 is the 19,980th, leaving 20 slower ones.
        let many: Vec<u64> = (1..=20_000).collect();
        assert_eq!(percentile(&many, 0.999), Some(19_980));
        assert_eq!(percentile(&many, 0.5), Some(10_000));
    }

    #[test]
    #[should_panic(expected = "out of (0, 1]")]
    fn a_quantile_outside_the_unit_interval_is_a_bug() {
        let _ = percentile(&[1, 2], 1.5);
    }

    #[test]
    fn a_summary_sorts_its_samples_first() {
        let summary = LatencySummary::from_samples(vec![40, 10, 30, 20]).unwrap();
        assert_eq!(summary.round_trips, 4);
        assert_eq!(
            (summary.p50_ns, summary.p99_ns, summary.p999_ns),
            (20, 40, 40)
        );
        assert_eq!((summary.min_ns, summary.max_ns), (10, 40));
        assert_eq!(summary.mean_ns, 25.0);
        assert_eq!(LatencySummary::from_samples(Vec::new()), None);
    }

    #[test]
    fn the_spread_is_median_min_and_max() {
        let odd = Spread::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((odd.median, odd.min, odd.max), (2.0, 1.0, 3.0));
        let even = Spread::of([4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(even.median, 2.5);
        assert_eq!(Spread::of([5.0]).unwrap().median, 5.0);
        assert_eq!(Spread::of([]), None);
        assert_eq!(Spread::of([1.0, f64::NAN]), None);
    }
}
