//! PNG plots of an accuracy run, drawn with OpenCV (already linked for
//! video; no plotting dependency): accuracy against crowding, and a store
//! map with every shopper's trajectory and where each pick happened (green
//! when its receipt line came out right, red when not).

use super::AccuracyReport;
use crate::sim::World;
use opencv::core::{CV_8UC3, Mat, Point, Rect, Scalar};
use opencv::{imgcodecs, imgproc};
use std::path::{Path, PathBuf};

fn rgb(r: f64, g: f64, b: f64) -> Scalar {
    Scalar::new(b, g, r, 0.0)
}

fn canvas(w: i32, h: i32) -> opencv::Result<Mat> {
    Mat::new_rows_cols_with_default(h, w, CV_8UC3, rgb(255.0, 255.0, 255.0))
}

fn text(img: &mut Mat, s: &str, x: i32, y: i32, scale: f64) -> opencv::Result<()> {
    imgproc::put_text(
        img,
        s,
        Point::new(x, y),
        imgproc::FONT_HERSHEY_SIMPLEX,
        scale,
        rgb(30.0, 30.0, 30.0),
        1,
        imgproc::LINE_AA,
        false,
    )
}

fn save(img: &Mat, path: &Path) -> Result<PathBuf, String> {
    let s = path.to_str().ok_or("the plot path is not UTF-8")?;
    match imgcodecs::imwrite_def(s, img) {
        Ok(true) => Ok(path.to_owned()),
        Ok(false) => Err(format!("OpenCV could not write {}", path.display())),
        Err(e) => Err(e.to_string()),
    }
}

/// Writes `crowding.png`, `map.png` and `tradeoff.png` into `dir`; returns their paths.
pub fn write_plots(report: &AccuracyReport, world: &World, dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let crowd = crowding(report).map_err(|e| e.to_string())?;
    let map = store_map(report, world).map_err(|e| e.to_string())?;
    let curve = tradeoff(report).map_err(|e| e.to_string())?;
    Ok(vec![
        save(&crowd, &dir.join("crowding.png"))?,
        save(&map, &dir.join("map.png"))?,
        save(&curve, &dir.join("tradeoff.png"))?,
    ])
}

fn axis_line(img: &mut Mat, a: Point, b: Point, colour: Scalar) -> opencv::Result<()> {
    imgproc::line(img, a, b, colour, 1, imgproc::LINE_AA, 0)
}

/// Review rate (x) against wrong-and-unflagged visits (y) as the review
/// threshold on event confidence moves from 0 to 1; each point is labelled
/// with its threshold.
fn tradeoff(report: &AccuracyReport) -> opencv::Result<Mat> {
    let (w, h, left, bottom, top, right) = (720, 460, 80, 60, 50, 30);
    let mut img = canvas(w, h)?;
    let y_max = report.tradeoff.iter().map(|p| p.wrong_unflagged_rate).fold(0.05_f64, f64::max);
    let (pw, ph) = (f64::from(w - left - right), f64::from(h - bottom - top));
    let at = |x: f64, y: f64| Point::new(left + (x * pw).round() as i32, h - bottom - (y / y_max * ph).round() as i32);
    let grey = rgb(220.0, 220.0, 220.0);
    for i in 0..=4 {
        let f = f64::from(i) / 4.0;
        axis_line(&mut img, at(f, 0.0), at(f, y_max), grey)?;
        axis_line(&mut img, at(0.0, f * y_max), at(1.0, f * y_max), grey)?;
        text(&mut img, &format!("{:.0}%", f * 100.0), at(f, 0.0).x - 12, h - bottom + 18, 0.4)?;
        text(&mut img, &format!("{:.1}%", f * y_max * 100.0), 15, at(0.0, f * y_max).y + 5, 0.4)?;
    }
    let line = rgb(70.0, 130.0, 200.0);
    for pair in report.tradeoff.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let (pa, pb) = (at(a.review_rate, a.wrong_unflagged_rate), at(b.review_rate, b.wrong_unflagged_rate));
        imgproc::line(&mut img, pa, pb, line, 2, imgproc::LINE_AA, 0)?;
    }
    for (i, p) in report.tradeoff.iter().enumerate() {
        let c = at(p.review_rate, p.wrong_unflagged_rate);
        imgproc::circle(&mut img, c, 4, rgb(200.0, 60.0, 40.0), -1, imgproc::LINE_AA, 0)?;
        if i % 4 == 0 || i + 1 == report.tradeoff.len() {
            text(&mut img, &format!("{:.2}", p.review_below_confidence), c.x + 6, c.y - 6, 0.35)?;
        }
    }
    let title = format!(
        "{} seed {}: review rate vs wrong and unflagged visits, by review threshold",
        report.scenario, report.seed
    );
    text(&mut img, &title, 10, 25, 0.5)?;
    text(&mut img, "visits sent to staff review", left + 200, h - 15, 0.45)?;
    Ok(img)
}

/// Share of shelf actions whose receipt line came out right, by how many
/// people were in the store at that moment (bars), with the action count.
fn crowding(report: &AccuracyReport) -> opencv::Result<Mat> {
    let (w, h, left, bottom, top) = (720, 420, 70, 60, 50);
    let mut img = canvas(w, h)?;
    let max_people = report.actions.iter().map(|a| a.people_in_store).max().unwrap_or(1).max(1);
    let buckets = max_people.min(12);
    let bucket_of = |n: usize| (n.max(1) - 1) * buckets / max_people;
    let mut right = vec![0usize; buckets];
    let mut total = vec![0usize; buckets];
    for a in &report.actions {
        let b = bucket_of(a.people_in_store).min(buckets - 1);
        total[b] += 1;
        right[b] += usize::from(a.right);
    }
    let plot_h = h - bottom - top;
    let bar_w = (w - left - 20) / buckets as i32;
    imgproc::line(
        &mut img,
        Point::new(left, h - bottom),
        Point::new(w - 10, h - bottom),
        rgb(0.0, 0.0, 0.0),
        1,
        imgproc::LINE_8,
        0,
    )?;
    imgproc::line(
        &mut img,
        Point::new(left, top),
        Point::new(left, h - bottom),
        rgb(0.0, 0.0, 0.0),
        1,
        imgproc::LINE_8,
        0,
    )?;
    for pct in [0, 50, 80, 90, 100] {
        let y = h - bottom - plot_h * pct / 100;
        imgproc::line(
            &mut img,
            Point::new(left - 4, y),
            Point::new(w - 10, y),
            rgb(220.0, 220.0, 220.0),
            1,
            imgproc::LINE_8,
            0,
        )?;
        text(&mut img, &format!("{pct}%"), 20, y + 5, 0.45)?;
    }
    for b in 0..buckets {
        let x = left + 4 + b as i32 * bar_w;
        let lo = b * max_people / buckets + 1;
        let hi = (b + 1) * max_people / buckets;
        let label = if lo == hi { format!("{lo}") } else { format!("{lo}-{hi}") };
        text(&mut img, &label, x + 2, h - bottom + 18, 0.4)?;
        if total[b] == 0 {
            continue;
        }
        let share = right[b] as f64 / total[b] as f64;
        let bh = (share * f64::from(plot_h)).round() as i32;
        imgproc::rectangle(
            &mut img,
            Rect::new(x, h - bottom - bh, bar_w - 8, bh),
            rgb(70.0, 130.0, 200.0),
            -1,
            imgproc::LINE_8,
            0,
        )?;
        text(&mut img, &format!("n={}", total[b]), x + 2, h - bottom - bh - 6, 0.35)?;
    }
    let title = format!(
        "{} seed {}: shelf actions with a right receipt line, by people in the store",
        report.scenario, report.seed
    );
    text(&mut img, &title, 10, 25, 0.5)?;
    text(&mut img, "people in the store at the action", left + 150, h - 15, 0.45)?;
    Ok(img)
}

/// The floor plan (gondolas, entry and exit), each person's walk, and every
/// shelf action as a dot: green right, red wrong.
fn store_map(report: &AccuracyReport, world: &World) -> opencv::Result<Mat> {
    let [x0, y0, x1, y1] = world.layout.geometry.bounds.unwrap_or([0.0, 0.0, 10.0, 8.0]);
    let (scale, margin) = (100.0, 40);
    let (w, h) = (((x1 - x0) * scale) as i32 + 2 * margin, ((y1 - y0) * scale) as i32 + 2 * margin + 30);
    let mut img = canvas(w, h)?;
    // World y up, image y down.
    let px = |x: f64, y: f64| Point::new(margin + ((x - x0) * scale) as i32, h - margin - ((y - y0) * scale) as i32);
    imgproc::rectangle_points(&mut img, px(x0, y0), px(x1, y1), rgb(0.0, 0.0, 0.0), 2, imgproc::LINE_8, 0)?;
    for zone in &world.layout.geometry.zones {
        let pts: Vec<Point> = zone.polygon.iter().map(|p| px(p[0], p[1])).collect();
        let pts = opencv::core::Vector::<Point>::from_iter(pts);
        imgproc::fill_convex_poly(&mut img, &pts, rgb(225.0, 240.0, 225.0), imgproc::LINE_8, 0)?;
        let at = px(zone.polygon[0][0], zone.polygon[0][1]);
        text(&mut img, &zone.name, at.x + 5, at.y - 8, 0.45)?;
    }
    for g in &world.layout.geometry.gondolas {
        let pts = opencv::core::Vector::<Point>::from_iter(g.footprint.iter().map(|p| px(p[0], p[1])));
        imgproc::fill_convex_poly(&mut img, &pts, rgb(200.0, 200.0, 200.0), imgproc::LINE_8, 0)?;
        let c = px(
            g.footprint.iter().map(|p| p[0]).sum::<f64>() / 4.0,
            g.footprint.iter().map(|p| p[1]).sum::<f64>() / 4.0,
        );
        text(&mut img, &format!("G{}", g.id), c.x - 10, c.y + 5, 0.45)?;
    }
    for p in &world.people {
        let hue = f64::from(p.party * 47 % 255);
        let colour = rgb(120.0 + hue / 3.0, 120.0, 255.0 - hue / 2.0);
        for pair in p.path.windows(2) {
            imgproc::line(
                &mut img,
                px(pair[0].x, pair[0].y),
                px(pair[1].x, pair[1].y),
                colour,
                1,
                imgproc::LINE_AA,
                0,
            )?;
        }
    }
    for a in &report.actions {
        let colour = if a.right { rgb(40.0, 170.0, 60.0) } else { rgb(220.0, 30.0, 30.0) };
        imgproc::circle(&mut img, px(a.x, a.y), 4, colour, -1, imgproc::LINE_AA, 0)?;
    }
    let wrong = report.actions.iter().filter(|a| !a.right).count();
    let title = format!(
        "{} seed {}: {} visits, {} shelf actions ({} wrong, red)",
        report.scenario,
        report.seed,
        report.parties,
        report.actions.len(),
        wrong
    );
    text(&mut img, &title, 10, 22, 0.55)?;
    Ok(img)
}
