//! `latency.svg` and `throughput.svg`: one log-scale line per mechanism across the sizes, one
//! panel per workload and series, with each point's min–max spread as a vertical bar.
//!
//! Drawn with plotters' SVG backend and no font library: text is left to the SVG viewer.

use std::error::Error;
use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::plan::{Series, WorkloadKind, format_size};
use crate::stats::Spread;

use super::format::axis;
use super::results::{Results, Summary};

/// Distinct colours, one per mechanism in table order (cycled beyond twelve).
const PALETTE: [RGBColor; 12] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x1b, 0x80),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x00, 0x00, 0x80),
    RGBColor(0x55, 0x6b, 0x2f),
];

/// The width of the legend column, in pixels.
const LEGEND_WIDTH: u32 = 210;
/// One panel's size, in pixels.
const PANEL: (u32, u32) = (540, 400);

type DrawResult = Result<(), Box<dyn Error>>;

/// One mechanism's figures in one panel: `(size index, spread)`.
struct Line {
    mechanism: usize,
    points: Vec<(usize, Spread)>,
}

/// What one panel shows.
struct Panel {
    title: String,
    lines: Vec<Line>,
}

/// The lines of `workload` in `series`, with `figure` picking the plotted number.
fn panel(
    results: &Results,
    workload: WorkloadKind,
    series: Series,
    figure: fn(&Summary) -> Option<Spread>,
) -> Panel {
    let lines = results
        .settings
        .mechanisms
        .iter()
        .enumerate()
        .map(|(mechanism, name)| Line {
            mechanism,
            points: results
                .settings
                .sizes
                .iter()
                .enumerate()
                .filter_map(|(i, &size)| {
                    let record = results.find(name, workload, series, size)?;
                    Some((i, figure(record.outcome.summary()?)?))
                })
                .collect(),
        })
        .filter(|line| !line.points.is_empty())
        .collect();
    Panel {
        title: format!("{} · {series}", workload.title()),
        lines,
    }
}

fn colour(mechanism: usize) -> RGBColor {
    PALETTE[mechanism % PALETTE.len()]
}

/// postbox's own lines are drawn heavier.
fn stroke(name: &str) -> u32 {
    if name.starts_with("postbox") { 3 } else { 1 }
}

/// A marker whose shape also tells mechanisms apart (circle, triangle, square), at `at` in
/// `area`'s coordinates.
fn marker<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    mechanism: usize,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let style = colour(mechanism).filled();
    match mechanism % 3 {
        0 => area.draw(&(EmptyElement::at(at) + Circle::new((0, 0), 4, style)))?,
        1 => area.draw(&(EmptyElement::at(at) + TriangleMarker::new((0, 0), 5, style)))?,
        _ => area.draw(&(EmptyElement::at(at) + Rectangle::new([(-3, -3), (3, 3)], style)))?,
    }
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    results: &Results,
    y_desc: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let sizes = &results.settings.sizes;
    let values = panel
        .lines
        .iter()
        .flat_map(|l| l.points.iter().flat_map(|(_, s)| [s.min, s.max]))
        .filter(|v| *v > 0.0);
    let (low, high) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !low.is_finite() {
        area.draw(&Text::new(
            format!("{}: no data", panel.title),
            (20, 30),
            ("sans-serif", 15),
        ))?;
        return Ok(());
    }
    let last = sizes.len().saturating_sub(1) as i32;
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&panel.title, ("sans-serif", 17))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64);
    let mut chart = builder.build_cartesian_2d(
        (0..last).into_segmented(),
        (low / 1.6..high * 1.6).log_scale(),
    )?;
    chart
        .configure_mesh()
        .x_labels(sizes.len())
        .x_label_formatter(&|value| match value {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => usize::try_from(*i)
                .ok()
                .and_then(|i| sizes.get(i))
                .map_or_else(String::new, |&s| format_size(s)),
            SegmentValue::Last => String::new(),
        })
        .y_label_formatter(&|v| axis(*v))
        .x_desc("message size")
        .y_desc(y_desc)
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .draw()?;
    let x = |i: usize| SegmentValue::CenterOf(i as i32);
    for line in &panel.lines {
        let name = &results.settings.mechanisms[line.mechanism];
        let style = colour(line.mechanism).stroke_width(stroke(name));
        // Lines join neighbouring sizes only: a gap (n/a, failed) stays a gap.
        for pair in line.points.windows(2) {
            if pair[1].0 == pair[0].0 + 1 {
                chart.draw_series(LineSeries::new(
                    pair.iter().map(|(i, s)| (x(*i), s.median)),
                    style,
                ))?;
            }
        }
        for (i, s) in &line.points {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x(*i), s.min), (x(*i), s.max)],
                colour(line.mechanism).stroke_width(1),
            )))?;
            marker(chart.plotting_area(), (x(*i), s.median), line.mechanism)?;
        }
    }
    Ok(())
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    results: &Results,
    shown: &[usize],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    area.draw(&Text::new("mechanism", (12, 40), ("sans-serif", 15)))?;
    for (row, &mechanism) in shown.iter().enumerate() {
        let y = 70 + 24 * row as i32;
        let name = &results.settings.mechanisms[mechanism];
        area.draw(&PathElement::new(
            vec![(12, y), (44, y)],
            colour(mechanism).stroke_width(stroke(name)),
        ))?;
        marker(area, (28, y), mechanism)?;
        area.draw(&Text::new(name.as_str(), (52, y - 7), ("sans-serif", 14)))?;
    }
    Ok(())
}

/// Draws `panels` (rows of series) with a legend and a title into an SVG at `path`.
fn draw_file(
    path: &Path,
    title: &str,
    panels: &[Vec<Panel>],
    results: &Results,
    y_desc: &str,
) -> DrawResult {
    let rows = panels.len().max(1) as u32;
    let cols = panels.iter().map(Vec::len).max().unwrap_or(1).max(1) as u32;
    let size = (PANEL.0 * cols + LEGEND_WIDTH, PANEL.1 * rows + 50);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 20))?;
    let (plots, legend) = root.split_horizontally(PANEL.0 * cols);
    let areas = plots.split_evenly((rows as usize, cols as usize));
    for (row, row_panels) in panels.iter().enumerate() {
        for (col, panel) in row_panels.iter().enumerate() {
            draw_panel(&areas[row * cols as usize + col], panel, results, y_desc)?;
        }
    }
    let mut shown: Vec<usize> = panels
        .iter()
        .flatten()
        .flat_map(|p| p.lines.iter().map(|l| l.mechanism))
        .collect();
    shown.sort_unstable();
    shown.dedup();
    draw_legend(&legend, results, &shown)?;
    root.present()?;
    Ok(())
}

/// Writes `latency.svg` and `throughput.svg` into `dir` for the workloads that ran, and removes
/// a stale one for workloads that did not.
///
/// # Errors
///
/// When a file cannot be written or drawn.
pub fn write_charts(results: &Results, dir: &Path) -> Result<(), String> {
    let repetitions = results.settings.repetitions;
    let series = &results.settings.series;
    let workloads = &results.settings.workloads;
    let latency_path = dir.join("latency.svg");
    if workloads.contains(&WorkloadKind::PingPong) {
        let p50 = |s: &Summary| match s {
            Summary::Latency { p50_us, .. } => Some(*p50_us),
            Summary::Throughput { .. } => None,
        };
        let panels = vec![
            series
                .iter()
                .map(|&s| panel(results, WorkloadKind::PingPong, s, p50))
                .collect(),
        ];
        let title = format!(
            "Ping-pong p50 round trip, µs (log scale, lower is better; bars: min–max of {repetitions})"
        );
        draw_file(
            &latency_path,
            &title,
            &panels,
            results,
            "p50 round trip (µs)",
        )
        .map_err(|e| format!("cannot draw {}: {e}", latency_path.display()))?;
    } else {
        let _ = std::fs::remove_file(&latency_path);
    }
    let throughput_path = dir.join("throughput.svg");
    let rate_workloads: Vec<WorkloadKind> = workloads
        .iter()
        .copied()
        .filter(|&w| w != WorkloadKind::PingPong)
        .collect();
    if rate_workloads.is_empty() {
        let _ = std::fs::remove_file(&throughput_path);
        return Ok(());
    }
    let megabytes = |s: &Summary| match s {
        Summary::Throughput {
            megabytes_per_s, ..
        } => Some(*megabytes_per_s),
        Summary::Latency { .. } => None,
    };
    let panels: Vec<Vec<Panel>> = rate_workloads
        .iter()
        .map(|&w| {
            series
                .iter()
                .map(|&s| panel(results, w, s, megabytes))
                .collect()
        })
        .collect();
    let title = format!(
        "Throughput, payload MB/s (log scale, higher is better; bars: min–max of {repetitions})"
    );
    draw_file(&throughput_path, &title, &panels, results, "MB/s")
        .map_err(|e| format!("cannot draw {}: {e}", throughput_path.display()))
}
