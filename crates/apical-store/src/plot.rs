//! Learning-curve plots (PNG and SVG) with plotters. The font (DejaVu Sans, vendored with its
//! licence under `assets/`) is compiled in, so plotting needs no system fonts.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{MetricLog, StoreError};

/// What plotters said when a figure could not be drawn (its backends' error types differ).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct DrawError(String);

/// One line of a panel: split name, (step, value) points, colour.
type Series<'a> = (&'a str, Vec<(f64, f64)>, RGBColor);

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    log: &MetricLog,
    title: &str,
) -> Result<(), DrawError> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| DrawError(e.to_string());
    root.fill(&WHITE).map_err(e)?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(e)?;
    let panels = root.split_evenly((1, 2));
    for (panel, metric) in panels.iter().zip(["loss", "accuracy"]) {
        let series: Vec<Series> = [("train", BLUE), ("test", RED), ("validation", GREEN)]
            .into_iter()
            .map(|(split, colour)| (split, log.series(split, metric), colour))
            .filter(|(_, points, _)| !points.is_empty())
            .collect();
        let all: Vec<(f64, f64)> = series
            .iter()
            .flat_map(|(_, s, _)| s.iter().copied())
            .collect();
        let x_max = all.iter().map(|p| p.0).fold(1.0, f64::max);
        let (y_min, y_max) = if metric == "accuracy" {
            (0.0, 1.0)
        } else {
            let hi = all
                .iter()
                .map(|p| p.1)
                .filter(|v| v.is_finite())
                .fold(0.0, f64::max);
            (0.0, if hi > 0.0 { hi * 1.05 } else { 1.0 })
        };
        let mut chart = ChartBuilder::on(panel)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..x_max, y_min..y_max)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc(metric)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(e)?;
        for (split, points, colour) in series {
            if points.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                .map_err(e)?
                .label(split)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, colour.filled())),
                )
                .map_err(e)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(e)?;
    }
    root.present().map_err(e)
}

/// Writes `<stem>.png` and `<stem>.svg` in `dir`: loss and accuracy against step, train and
/// test (and validation, when the task has that split).
pub fn learning_curve(
    dir: &Path,
    stem: &str,
    log: &MetricLog,
    title: &str,
) -> Result<(), StoreError> {
    save_png_and_svg(
        dir,
        stem,
        (1100, 450),
        |area| draw(area, log, title),
        |area| draw(area, log, title),
    )
}

/// Draws the same figure to `<stem>.png` and `<stem>.svg` in `dir`, each written atomically.
fn save_png_and_svg(
    dir: &Path,
    stem: &str,
    size: (u32, u32),
    draw_png: impl FnOnce(DrawingArea<BitMapBackend, Shift>) -> Result<(), DrawError>,
    draw_svg: impl FnOnce(DrawingArea<SVGBackend, Shift>) -> Result<(), DrawError>,
) -> Result<(), StoreError> {
    register_font();
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let fail = |path: &Path, message: DrawError| StoreError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(message),
    };
    let png = dir.join(format!("{stem}.png"));
    // plotters picks the encoder from the extension, so the temporary keeps `.png`.
    let tmp = dir.join(format!(".tmp-{}-{stem}.png", std::process::id()));
    draw_png(BitMapBackend::new(&tmp, size).into_drawing_area()).map_err(|m| {
        let _ = std::fs::remove_file(&tmp);
        fail(&png, m)
    })?;
    std::fs::rename(&tmp, &png).map_err(|source| StoreError::Write {
        path: png.clone(),
        source,
    })?;
    let mut svg = String::new();
    let svg_path = dir.join(format!("{stem}.svg"));
    draw_svg(SVGBackend::with_string(&mut svg, size).into_drawing_area())
        .map_err(|m| fail(&svg_path, m))?;
    crate::write_atomic(&svg_path, svg.as_bytes())
}

/// One line of a [`line_plot`]: a name, (x, y) points and, optionally, an interval band
/// (x, low, high) drawn shaded behind the line.
#[derive(Debug, Clone, Default)]
pub struct PlotSeries {
    /// Legend entry.
    pub name: String,
    /// The line's points.
    pub points: Vec<(f64, f64)>,
    /// The band's (x, low, high), empty for none.
    pub band: Vec<(f64, f64, f64)>,
}

impl PlotSeries {
    /// A line without a band.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            band: Vec::new(),
        }
    }
}

/// The x and y ranges of a [`line_plot`] of `points` (finite ones) and whether every x is a
/// whole number.
fn axis_ranges(
    points: &[(f64, f64)],
    y_range: Option<(f64, f64)>,
) -> ((f64, f64), (f64, f64), bool) {
    let (x_min, x_max) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.0), hi.max(p.0))
        });
    let (y_min, y_max) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    let whole_x = !points.is_empty() && points.iter().all(|p| p.0 == p.0.round());
    let (x_min, x_max) = if x_min.is_finite() && x_max > x_min {
        if whole_x {
            (x_min - 0.25, x_max + 0.25)
        } else {
            (x_min, x_max)
        }
    } else if x_min.is_finite() {
        (x_min - 0.5, x_min + 0.5)
    } else {
        (0.0, 1.0)
    };
    let (y_min, y_max) = match y_range {
        // The quantity's own bounds, widened only to show what leaves them.
        Some((lo, hi)) => {
            let pad = 0.03 * (hi - lo);
            (
                lo.min(if y_min.is_finite() { y_min } else { lo }) - pad,
                hi.max(if y_max.is_finite() { y_max } else { hi }) + pad,
            )
        }
        // The data's own range with 5% margins (a fixed 0 would squash values near 1).
        None if y_min.is_finite() && y_max > y_min => {
            let pad = 0.05 * (y_max - y_min);
            (y_min - pad, y_max + pad)
        }
        None if y_min.is_finite() => {
            let pad = if y_min == 0.0 { 1.0 } else { 0.1 * y_min.abs() };
            (y_min - pad, y_min + pad)
        }
        None => (0.0, 1.0),
    };
    ((x_min, x_max), (y_min, y_max), whole_x)
}

/// Writes `<stem>.png` and `<stem>.svg`: named (x, y) series as lines with markers, with their
/// interval bands shaded. `y_range`: the y axis of a bounded quantity (e.g. (0, 1) for an
/// accuracy), widened only if a point or band leaves it; `None`: the data's own range. When
/// every x is a whole number (layers, days, ensembles) the x axis is labelled at whole numbers
/// only, and a single x value sits in the middle of a unit-wide axis.
pub fn line_plot(
    dir: &Path,
    stem: &str,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    y_range: Option<(f64, f64)>,
    series: &[PlotSeries],
) -> Result<(), StoreError> {
    // Twelve distinguishable colours before any repeats (a few-shot plot has 10 conditions).
    let colours = [
        BLUE,
        RED,
        GREEN,
        MAGENTA,
        CYAN,
        BLACK,
        RGBColor(255, 140, 0),
        RGBColor(128, 0, 128),
        RGBColor(139, 69, 19),
        RGBColor(128, 128, 0),
        RGBColor(0, 128, 128),
        RGBColor(255, 20, 147),
    ];
    fn draw_series<DB: DrawingBackend>(
        root: DrawingArea<DB, Shift>,
        title: &str,
        x_desc: &str,
        y_desc: &str,
        y_range: Option<(f64, f64)>,
        series: &[PlotSeries],
        colours: &[RGBColor],
    ) -> Result<(), DrawError> {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| DrawError(e.to_string());
        root.fill(&WHITE).map_err(e)?;
        let points: Vec<(f64, f64)> = series
            .iter()
            .flat_map(|s| {
                s.points
                    .iter()
                    .copied()
                    .chain(s.band.iter().flat_map(|&(x, lo, hi)| [(x, lo), (x, hi)]))
            })
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        let ((x_min, x_max), (y_min, y_max), whole_x) = axis_ranges(&points, y_range);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x_min..x_max, y_min..y_max)
            .map_err(e)?;
        let whole = |v: &f64| {
            if (v - v.round()).abs() < 1e-9 {
                format!("{v:.0}")
            } else {
                String::new()
            }
        };
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(x_desc)
            .y_desc(y_desc)
            .label_style(("sans-serif", 14));
        if whole_x {
            let span = (x_max - x_min).ceil() as usize;
            mesh.x_labels(span.clamp(2, 12) * 2)
                .x_label_formatter(&whole);
        }
        mesh.draw().map_err(e)?;
        for (i, s) in series.iter().enumerate() {
            let colour = colours[i % colours.len()];
            let band: Vec<(f64, f64, f64)> = s
                .band
                .iter()
                .copied()
                .filter(|(x, lo, hi)| x.is_finite() && lo.is_finite() && hi.is_finite())
                .collect();
            if band.len() >= 2 {
                let outline: Vec<(f64, f64)> = band
                    .iter()
                    .map(|&(x, _, hi)| (x, hi))
                    .chain(band.iter().rev().map(|&(x, lo, _)| (x, lo)))
                    .collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(outline, colour.mix(0.18))))
                    .map_err(e)?;
            }
            chart
                .draw_series(LineSeries::new(s.points.clone(), colour.stroke_width(2)))
                .map_err(e)?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(e)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(e)?;
        root.present().map_err(e)
    }
    save_png_and_svg(
        dir,
        stem,
        (900, 550),
        |area| draw_series(area, title, x_desc, y_desc, y_range, series, &colours),
        |area| draw_series(area, title, x_desc, y_desc, y_range, series, &colours),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetricRow;

    #[test]
    fn writes_a_png_and_an_svg() {
        let dir = crate::testdir::tempdir().unwrap();
        let mut log = MetricLog::default();
        for step in [10, 20, 30] {
            for split in ["train", "test"] {
                log.rows.push(MetricRow {
                    step,
                    epoch: 0.0,
                    split: split.into(),
                    loss: 1.0 / step as f64,
                    accuracy: 0.5 + step as f64 / 100.0,
                });
            }
        }
        learning_curve(dir.path(), "curve", &log, "test run").unwrap();
        let png = std::fs::read(dir.path().join("curve.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg = std::fs::read_to_string(dir.path().join("curve.svg")).unwrap();
        assert!(svg.contains("<svg") && svg.contains("accuracy"));
    }

    #[test]
    fn one_layer_sits_mid_axis_and_an_accuracy_keeps_its_bounds() {
        // One hidden layer, accuracy 0.87: x from −0.5 to 0.5, y the accuracy's [0, 1].
        let ((x0, x1), (y0, y1), whole) = axis_ranges(&[(0.0, 0.87)], Some((0.0, 1.0)));
        assert_eq!((x0, x1), (-0.5, 0.5));
        assert!(whole);
        assert!(y0 < 0.0 && y0 > -0.05 && y1 > 1.0 && y1 < 1.05, "{y0} {y1}");
        // A band that leaves the bounds widens the axis to show it.
        let (_, (y0, _), _) = axis_ranges(&[(1.0, 0.5), (2.0, -0.2)], Some((0.0, 1.0)));
        assert!(y0 < -0.2);
        // Fractional x: the data's range, no whole-number labels.
        let ((x0, x1), _, whole) = axis_ranges(&[(0.5, 1.0), (1.5, 2.0)], None);
        assert_eq!((x0, x1), (0.5, 1.5));
        assert!(!whole);
        // One value without bounds: a margin around it, not ±1 whatever its size.
        let (_, (y0, y1), _) = axis_ranges(&[(3.0, 0.004)], None);
        assert!(y0 < 0.004 && y1 > 0.004 && y1 - y0 < 0.01, "{y0} {y1}");
    }
}
