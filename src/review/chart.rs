//! SVG charts drawn on the server for the console: a line chart (a plate's
//! weight trace around an event, with the event's time marked) and a bar
//! chart (revenue by hour, corrections by reason, ...). Plain strings with
//! presentation attributes only (no inline styles, so the console's
//! Content-Security-Policy holds), every text escaped, axes on "nice" ticks.

use std::fmt::Write;

const MARGIN_LEFT: f64 = 64.0;
const MARGIN_RIGHT: f64 = 16.0;
const MARGIN_TOP: f64 = 28.0;
const MARGIN_BOTTOM: f64 = 44.0;

/// A line chart of one series, with labelled vertical markers.
#[derive(Clone, Debug, Default)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// In x order.
    pub points: Vec<(f64, f64)>,
    /// Vertical lines at these x values, with a label each.
    pub markers: Vec<(f64, String)>,
    pub width: f64,
    pub height: f64,
}

/// One bar: its category label, its value and the value as printed.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub text: String,
}

#[derive(Clone, Debug, Default)]
pub struct BarChart {
    pub title: String,
    pub y_label: String,
    pub bars: Vec<Bar>,
    pub width: f64,
    pub height: f64,
}

/// XML-escapes text for SVG and HTML (the receipts' HTML escaper).
pub use crate::notify::escape;

/// A number as a tick label: no trailing zeros, at most 3 decimals.
pub fn tick_label(v: f64) -> String {
    let rounded = (v * 1000.0).round() / 1000.0;
    let s = format!("{:.3}", if rounded == 0.0 { 0.0 } else { rounded });
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// About `count` evenly spaced round values (steps of 1, 2 or 5 x 10^k)
/// covering `[min, max]`; the first is <= min and the last >= max.
pub fn nice_ticks(min: f64, max: f64, count: usize) -> Vec<f64> {
    let (mut lo, mut hi) = if min <= max { (min, max) } else { (max, min) };
    if !lo.is_finite() || !hi.is_finite() {
        return vec![0.0, 1.0];
    }
    if (hi - lo).abs() < 1e-9 {
        let pad = if lo.abs() < 1e-9 { 1.0 } else { lo.abs() * 0.1 };
        (lo, hi) = (lo - pad, hi + pad);
    }
    let raw = (hi - lo) / count.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    let first = (lo / step).floor() * step;
    let mut ticks = Vec::new();
    let mut v = first;
    while v < hi + step * 0.999 && ticks.len() < 100 {
        ticks.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    ticks
}

/// Maps `[d0, d1]` onto `[r0, r1]`.
fn scale(v: f64, d0: f64, d1: f64, r0: f64, r1: f64) -> f64 {
    if (d1 - d0).abs() < 1e-12 { (r0 + r1) / 2.0 } else { r0 + (v - d0) / (d1 - d0) * (r1 - r0) }
}

fn open_svg(out: &mut String, width: f64, height: f64, title: &str, class: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart {class}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = escape(title)
    );
    let _ = write!(out, r##"<rect class="chart-bg" x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>"##);
    let _ = write!(
        out,
        r##"<text class="chart-title" x="{MARGIN_LEFT}" y="18" font-size="13" font-weight="bold" fill="#222222">{}</text>"##,
        escape(title)
    );
}

/// Horizontal grid lines and labels for the y ticks.
fn y_axis(out: &mut String, ticks: &[f64], plot: (f64, f64, f64, f64), label: &str) {
    let (x0, y0, x1, y1) = plot;
    let (lo, hi) = (ticks[0], ticks[ticks.len() - 1]);
    for t in ticks {
        let y = scale(*t, lo, hi, y1, y0);
        let _ = write!(
            out,
            r##"<line class="grid" x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#dddddd"/><text class="tick" x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#555555">{}</text>"##,
            x0 - 6.0,
            y + 4.0,
            tick_label(*t)
        );
    }
    let _ = write!(
        out,
        r##"<text class="axis-label" x="12" y="{:.1}" font-size="11" fill="#555555" transform="rotate(-90 12 {:.1})" text-anchor="middle">{}</text>"##,
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0,
        escape(label)
    );
}

/// The line chart as an SVG document.
pub fn line_chart(c: &LineChart) -> String {
    let mut out = String::new();
    open_svg(&mut out, c.width, c.height, &c.title, "line-chart");
    let plot = (MARGIN_LEFT, MARGIN_TOP, c.width - MARGIN_RIGHT, c.height - MARGIN_BOTTOM);
    let (x0, y0, x1, y1) = plot;
    if c.points.is_empty() {
        let _ = write!(
            out,
            r##"<text class="empty" x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle" fill="#555555">no readings</text></svg>"##,
            (x0 + x1) / 2.0,
            (y0 + y1) / 2.0
        );
        return out;
    }
    let (ymin, ymax) = c.points.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let yt = nice_ticks(ymin, ymax, 5);
    let xs = c.points.iter().map(|p| p.0).chain(c.markers.iter().map(|m| m.0));
    let (xmin, xmax) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let xt = nice_ticks(xmin, xmax, 6);
    y_axis(&mut out, &yt, plot, &c.y_label);
    let (xlo, xhi) = (xt[0], xt[xt.len() - 1]);
    let (ylo, yhi) = (yt[0], yt[yt.len() - 1]);
    for t in &xt {
        let x = scale(*t, xlo, xhi, x0, x1);
        let _ = write!(
            out,
            r##"<text class="tick" x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#555555">{}</text>"##,
            y1 + 16.0,
            tick_label(*t)
        );
    }
    let _ = write!(
        out,
        r##"<text class="axis-label" x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#555555">{}</text>"##,
        (x0 + x1) / 2.0,
        c.height - 6.0,
        escape(&c.x_label)
    );
    for (mx, label) in &c.markers {
        let x = scale(*mx, xlo, xhi, x0, x1);
        let _ = write!(
            out,
            r##"<line class="marker" x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{y1}" stroke="#c0392b" stroke-dasharray="4 3"/><text class="marker-label" x="{:.1}" y="{:.1}" font-size="11" fill="#c0392b">{}</text>"##,
            x + 4.0,
            y0 + 12.0,
            escape(label)
        );
    }
    let path: Vec<String> = c
        .points
        .iter()
        .map(|(x, y)| format!("{:.1},{:.1}", scale(*x, xlo, xhi, x0, x1), scale(*y, ylo, yhi, y1, y0)))
        .collect();
    let _ = write!(
        out,
        r##"<polyline class="series" fill="none" stroke="#1f5fa8" stroke-width="1.5" points="{}"/></svg>"##,
        path.join(" ")
    );
    out
}

/// The bar chart as an SVG document (bars from zero; negative values go down).
pub fn bar_chart(c: &BarChart) -> String {
    let mut out = String::new();
    open_svg(&mut out, c.width, c.height, &c.title, "bar-chart");
    let plot = (MARGIN_LEFT, MARGIN_TOP, c.width - MARGIN_RIGHT, c.height - MARGIN_BOTTOM);
    let (x0, y0, x1, y1) = plot;
    if c.bars.is_empty() {
        let _ = write!(
            out,
            r##"<text class="empty" x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle" fill="#555555">nothing in this period</text></svg>"##,
            (x0 + x1) / 2.0,
            (y0 + y1) / 2.0
        );
        return out;
    }
    let lo = c.bars.iter().map(|b| b.value).fold(0.0, f64::min);
    let hi = c.bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let ticks = nice_ticks(lo, if hi == lo { lo + 1.0 } else { hi }, 5);
    y_axis(&mut out, &ticks, plot, &c.y_label);
    let (tlo, thi) = (ticks[0], ticks[ticks.len() - 1]);
    let slot = (x1 - x0) / c.bars.len() as f64;
    let zero = scale(0.0, tlo, thi, y1, y0);
    let label_every = (c.bars.len() as f64 * 48.0 / (x1 - x0)).ceil().max(1.0) as usize;
    for (i, b) in c.bars.iter().enumerate() {
        let top = scale(b.value, tlo, thi, y1, y0);
        let (y, h) = if top < zero { (top, zero - top) } else { (zero, top - zero) };
        let x = x0 + slot * i as f64 + slot * 0.15;
        let _ = write!(
            out,
            r##"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="#1f5fa8"><title>{}: {}</title></rect>"##,
            slot * 0.7,
            escape(&b.label),
            escape(&b.text)
        );
        if i % label_every == 0 {
            let _ = write!(
                out,
                r##"<text class="tick" x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#555555">{}</text>"##,
                x0 + slot * (i as f64 + 0.5),
                y1 + 16.0,
                escape(&b.label)
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let t = nice_ticks(-3.2, 47.0, 5);
        assert!(t[0] <= -3.2 && *t.last().unwrap() >= 47.0, "{t:?}");
        assert_eq!(t, vec![-20.0, 0.0, 20.0, 40.0, 60.0], "a span of 50 in about 5 steps: steps of 20");
        let flat = nice_ticks(512.0, 512.0, 5);
        assert!(flat[0] < 512.0 && *flat.last().unwrap() > 512.0, "{flat:?}");
        assert_eq!(nice_ticks(f64::NAN, 1.0, 5), vec![0.0, 1.0]);
        assert_eq!(tick_label(2.50), "2.5");
        assert_eq!(tick_label(-0.0000001), "0");
    }

    #[test]
    fn a_weight_trace_is_drawn_to_scale_with_its_event_marked() {
        let chart = LineChart {
            title: "plate 3.2.1 <trace>".into(),
            x_label: "s".into(),
            y_label: "g".into(),
            points: vec![(-2.0, 1000.0), (0.0, 1000.0), (1.0, 500.0), (2.0, 500.0)],
            markers: vec![(0.0, "event".into())],
            width: 400.0,
            height: 200.0,
        };
        let svg = line_chart(&chart);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("plate 3.2.1 &lt;trace&gt;") && !svg.contains("<trace>"));
        let points = svg.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
        let ys: Vec<f64> = points.split(' ').map(|p| p.split(',').nth(1).unwrap().parse().unwrap()).collect();
        assert_eq!(ys.len(), 4);
        assert_eq!(ys[0], ys[1]);
        assert!(ys[2] > ys[1], "a lighter plate is drawn lower: {ys:?}");
        let xs: Vec<f64> = points.split(' ').map(|p| p.split(',').next().unwrap().parse().unwrap()).collect();
        assert!(xs.windows(2).all(|w| w[1] > w[0]));
        assert!(xs[0] >= MARGIN_LEFT && *xs.last().unwrap() <= 400.0 - MARGIN_RIGHT);
        assert!(svg.contains("class=\"marker\"") && svg.contains(">event</text>"));
        assert!(!svg.contains("style="), "no inline styles under the CSP");
    }

    #[test]
    fn bars_scale_from_zero_and_an_empty_chart_says_so() {
        let bar = |label: &str, value: f64| Bar { label: label.into(), value, text: format!("{value}") };
        let chart = BarChart {
            title: "Revenue".into(),
            y_label: "EUR".into(),
            bars: vec![bar("09", 10.0), bar("10", 20.0), bar("11", 0.0)],
            width: 300.0,
            height: 200.0,
        };
        let svg = bar_chart(&chart);
        let heights: Vec<f64> = svg
            .split("class=\"bar\"")
            .skip(1)
            .map(|s| s.split("height=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(heights.len(), 3);
        assert!((heights[1] - 2.0 * heights[0]).abs() < 0.2, "{heights:?}");
        assert_eq!(heights[2], 0.0);
        assert!(svg.contains("<title>10: 20</title>"));
        let empty = bar_chart(&BarChart { bars: vec![], ..chart });
        assert!(empty.contains("nothing in this period") && empty.ends_with("</svg>"));
    }
}
