//! What the simulated products look like: a deterministic, procedural
//! packaging picture per product (a shape, a family colour shared by a
//! product line, a label band and a pattern of its own), rendered as a
//! catalogue photo ([`photo`]) or as a ceiling camera's crop of a hand
//! holding it ([`hand_crop`]: small, rotated, partly covered by the hand,
//! blurred, unevenly lit, over a cluttered background). Products of one
//! line ("... mineral water") share their shape and main colour, so they
//! are hard to tell apart by look, as in a real store. The pictures are
//! what the real embedding model sees; nothing here decides a match.

use crate::db::Product;
use image::{Rgb, RgbImage, imageops};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// Side of every rendered picture (the embedding model's input size).
pub const SIDE: u32 = 224;

/// The drawing recipe of one product, derived from its SKU and name alone.
#[derive(Clone, Debug, PartialEq)]
pub struct Look {
    shape: Shape,
    /// Packaging size relative to the picture (width, height), 0..1.
    size: (f64, f64),
    body: Rgb<u8>,
    label: Rgb<u8>,
    ink: Rgb<u8>,
    /// Label band: top and bottom as fractions of the package height.
    band: (f64, f64),
    /// Stripes on the label (count, vertical or not).
    stripes: (u32, bool),
    /// A round logo: centre as fractions of the package, radius fraction.
    logo: Option<(f64, f64, f64)>,
    /// The body's printed pattern: kind, period (fraction of the width), colour.
    pattern: (Pattern, f64, Rgb<u8>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pattern {
    Plain,
    Dots,
    Diagonal,
    Checker,
    Waves,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Box,
    Bottle,
    Can,
    Bag,
}

/// FNV-1a: a stable hash of a string (the same look on every machine).
fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The product line: the name's last two words that are not sizes or counts.
fn family(name: &str) -> String {
    let words: Vec<String> = name
        .split_whitespace()
        .map(str::to_lowercase)
        .filter(|w| {
            !w.chars().any(|c| c.is_ascii_digit()) && !["x", "l", "ml", "g", "kg", "pack", "cl"].contains(&w.as_str())
        })
        .collect();
    words[words.len().saturating_sub(2)..].join(" ")
}

fn colour(rng: &mut Xoshiro256PlusPlus) -> Rgb<u8> {
    Rgb([rng.random_range(20..236), rng.random_range(20..236), rng.random_range(20..236)])
}

impl Look {
    pub fn of(product: &Product) -> Self {
        let mut line = Xoshiro256PlusPlus::seed_from_u64(stable_hash(&family(&product.name)));
        let mut own = Xoshiro256PlusPlus::seed_from_u64(stable_hash(product.sku.as_str()));
        let shape = [Shape::Box, Shape::Bottle, Shape::Can, Shape::Bag][line.random_range(0..4)];
        let (w, h) = match shape {
            Shape::Box => (line.random_range(0.45..0.7), line.random_range(0.5..0.75)),
            Shape::Bottle => (line.random_range(0.22..0.32), line.random_range(0.7..0.85)),
            Shape::Can => (line.random_range(0.3..0.4), line.random_range(0.45..0.6)),
            Shape::Bag => (line.random_range(0.5..0.7), line.random_range(0.6..0.8)),
        };
        let body = colour(&mut line);
        // Siblings differ in the label, its pattern and the logo, not the body.
        let label = colour(&mut own);
        let ink = colour(&mut own);
        let top = own.random_range(0.2..0.5);
        let band = (top, top + own.random_range(0.2..0.4));
        let stripes = (own.random_range(0..6), own.random::<bool>());
        let logo = own
            .random_bool(0.6)
            .then(|| (own.random_range(0.3..0.7), own.random_range(0.15..0.85), own.random_range(0.08..0.18)));
        let kinds = [Pattern::Plain, Pattern::Dots, Pattern::Diagonal, Pattern::Checker, Pattern::Waves];
        let pattern = (kinds[own.random_range(0..kinds.len())], own.random_range(0.08..0.25), colour(&mut own));
        Look { shape, size: (w, h), body, label, ink, band, stripes, logo, pattern }
    }

    /// Draws the package centred at (`cx`, `cy`) with `scale` (1 = photo size).
    fn draw(&self, img: &mut RgbImage, cx: f64, cy: f64, scale: f64) {
        let s = f64::from(SIDE) * scale;
        let (w, h) = (self.size.0 * s, self.size.1 * s);
        let (x0, y0) = (cx - w / 2.0, cy - h / 2.0);
        let inside = |u: f64, v: f64| match self.shape {
            Shape::Box => true,
            // Neck above 20 % of the height: a third of the width.
            Shape::Bottle => v > 0.2 || (u - 0.5).abs() < 0.17,
            Shape::Can => {
                let (du, dv) = ((u - 0.5).abs() * 2.0, (v - 0.5).abs() * 2.0);
                du.powi(8) + dv.powi(8) <= 1.0
            }
            Shape::Bag => (u - 0.5).abs() < 0.5 - 0.1 * (1.0 - v),
        };
        for y in y0.max(0.0) as u32..((y0 + h).ceil() as u32).min(img.height()) {
            for x in x0.max(0.0) as u32..((x0 + w).ceil() as u32).min(img.width()) {
                let (u, v) = ((f64::from(x) - x0) / w, (f64::from(y) - y0) / h);
                if !(0.0..=1.0).contains(&u) || !(0.0..=1.0).contains(&v) || !inside(u, v) {
                    continue;
                }
                img.put_pixel(x, y, self.colour_at(u, v));
            }
        }
    }

    /// The package's colour at (u, v), fractions of its width and height.
    fn colour_at(&self, u: f64, v: f64) -> Rgb<u8> {
        if let Some((lu, lv, r)) = self.logo {
            let (du, dv) = (u - lu, (v - lv) * self.size.1 / self.size.0);
            if du.hypot(dv) < r {
                return self.ink;
            }
        }
        if v >= self.band.0 && v <= self.band.1 {
            let (n, vertical) = self.stripes;
            let along = if vertical { u } else { (v - self.band.0) / (self.band.1 - self.band.0) };
            if n > 0 && (along * f64::from(2 * n)).floor() as u32 % 2 == 1 {
                return self.ink;
            }
            return self.label;
        }
        let (kind, period, ink) = self.pattern;
        let (x, y) = (u / period, v * self.size.1 / self.size.0 / period);
        let on = match kind {
            Pattern::Plain => false,
            Pattern::Dots => (x.fract() - 0.5).hypot(y.fract() - 0.5) < 0.25,
            Pattern::Diagonal => (x + y).fract() < 0.35,
            Pattern::Checker => (x.floor() + y.floor()) as i64 % 2 == 0,
            Pattern::Waves => (y + 0.25 * (x * std::f64::consts::TAU).sin()).fract() < 0.3,
        };
        if on { ink } else { self.body }
    }
}

/// The catalogue photo of a product: on a plain light background, `view`
/// 0 straight on, others slightly turned and lit differently.
pub fn photo(look: &Look, view: u32) -> RgbImage {
    let mut img = RgbImage::from_pixel(SIDE, SIDE, Rgb([236, 236, 232]));
    let c = f64::from(SIDE) / 2.0;
    look.draw(&mut img, c, c, 1.0);
    if view == 0 {
        return img;
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(u64::from(view));
    let img = rotate(&img, rng.random_range(-0.15..0.15), Rgb([236, 236, 232]));
    lit(&img, rng.random_range(0.85..1.15))
}

/// A skin tone for a simulated hand.
fn skin(rng: &mut Xoshiro256PlusPlus) -> Rgb<u8> {
    let tones = [[233, 196, 170], [198, 150, 118], [160, 110, 80], [110, 74, 52], [80, 55, 40]];
    let t = tones[rng.random_range(0..tones.len())];
    Rgb(t.map(|c: i32| (c + rng.random_range(-12..12)).clamp(0, 255) as u8))
}

/// A ceiling camera's crop around a wrist: `holding` is drawn in the hand
/// (smaller, shifted, turned, partly covered by the fingers), or nothing
/// when the hand is empty; over floor, clothing or shelf colours; then lit
/// unevenly and reduced to the 40-100 pixels a ceiling camera gives it.
pub fn hand_crop(holding: Option<&Look>, rng: &mut Xoshiro256PlusPlus) -> RgbImage {
    // Muted clutter: floor, clothing and shelf colours in blocks.
    let muted = |rng: &mut Xoshiro256PlusPlus| {
        let grey = rng.random_range(60..200);
        let c = colour(rng);
        Rgb(c.0.map(|v| ((u32::from(v) + 2 * grey) / 3) as u8))
    };
    let mut img = RgbImage::from_pixel(SIDE, SIDE, muted(rng));
    for _ in 0..rng.random_range(1..4) {
        let c = muted(rng);
        let (x, y) = (rng.random_range(0..SIDE), rng.random_range(0..SIDE));
        let (w, h) = (rng.random_range(30..120), rng.random_range(30..120));
        for py in y..(y + h).min(SIDE) {
            for px in x..(x + w).min(SIDE) {
                img.put_pixel(px, py, c);
            }
        }
    }
    let c = f64::from(SIDE) / 2.0;
    let tone = skin(rng);
    let (hx, hy, rx, ry);
    if let Some(look) = holding {
        let (dx, dy) = (rng.random_range(-20.0..20.0), rng.random_range(-20.0..20.0));
        look.draw(&mut img, c + dx, c + dy, rng.random_range(0.8..1.2));
        // Fingers over one side of the package.
        let side = if rng.random::<bool>() { 1.0 } else { -1.0 };
        (hx, hy) = (c + dx + side * rng.random_range(30.0..60.0), c + dy + rng.random_range(-30.0..30.0));
        (rx, ry) = (rng.random_range(15.0..30.0), rng.random_range(25.0..45.0));
    } else {
        (hx, hy) = (c + rng.random_range(-30.0..30.0), c + rng.random_range(-30.0..30.0));
        (rx, ry) = (rng.random_range(25.0..45.0), rng.random_range(35.0..60.0));
    }
    for y in 0..SIDE {
        for x in 0..SIDE {
            let (u, v) = ((f64::from(x) - hx) / rx, (f64::from(y) - hy) / ry);
            if u * u + v * v <= 1.0 {
                img.put_pixel(x, y, tone);
            }
        }
    }
    let img = rotate(&img, rng.random_range(-0.5..0.5), Rgb([110, 110, 110]));
    let img = lit(&img, rng.random_range(0.7..1.25));
    let small = rng.random_range(40..100);
    let img = imageops::resize(&img, small, small, imageops::FilterType::Triangle);
    let img = imageops::resize(&img, SIDE, SIDE, imageops::FilterType::Triangle);
    imageops::blur(&img, rng.random_range(0.3..1.5))
}

/// Rotates about the centre by `angle` radians (nearest pixel), `fill` outside.
fn rotate(img: &RgbImage, angle: f64, fill: Rgb<u8>) -> RgbImage {
    let (w, h) = img.dimensions();
    let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
    let (s, c) = angle.sin_cos();
    RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (f64::from(x) - cx, f64::from(y) - cy);
        let (sx, sy) = (c * dx + s * dy + cx, -s * dx + c * dy + cy);
        if sx >= 0.0 && sy >= 0.0 && (sx as u32) < w && (sy as u32) < h {
            *img.get_pixel(sx as u32, sy as u32)
        } else {
            fill
        }
    })
}

/// Scales brightness by `gain`.
fn lit(img: &RgbImage, gain: f64) -> RgbImage {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        p.0 = p.0.map(|c| (f64::from(c) * gain).clamp(0.0, 255.0) as u8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Sku, StoreId};

    fn product(sku: &str, name: &str) -> Product {
        Product {
            store_id: StoreId::from("demo"),
            sku: Sku::from(sku),
            name: name.into(),
            unit_weight_g: 500.0,
            weight_tolerance_g: 5.0,
            price_minor: 100,
            currency: "EUR".into(),
            tax_class: "standard".into(),
            age_restricted: false,
        }
    }

    fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
        let sum: f64 = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| f64::from(x.abs_diff(*y))).sum();
        sum / a.as_raw().len() as f64
    }

    #[test]
    fn a_product_always_looks_the_same_and_its_line_shares_shape_and_colour() {
        let still = product("DM-0002", "Still mineral water 1.5 l");
        let medium = product("DM-0003", "Medium sparkling mineral water 1.5 l");
        let crisps = product("DM-0100", "Paprika crisps 175 g");
        assert_eq!(family(&still.name), "mineral water");
        assert_eq!(Look::of(&still), Look::of(&still));
        assert_eq!(photo(&Look::of(&still), 1), photo(&Look::of(&still), 1));
        let (a, b, c) = (Look::of(&still), Look::of(&medium), Look::of(&crisps));
        assert_eq!((a.shape, a.body), (b.shape, b.body), "one product line");
        assert_ne!(a.label, b.label, "siblings differ in the label");
        assert_ne!(photo(&a, 0), photo(&b, 0));
        assert!(a.body != c.body || a.shape != c.shape);
    }

    #[test]
    fn a_hand_crop_is_a_degraded_view_and_differs_every_time() {
        let look = Look::of(&product("DM-0002", "Still mineral water 1.5 l"));
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let (one, two) = (hand_crop(Some(&look), &mut rng), hand_crop(Some(&look), &mut rng));
        assert_eq!(one.dimensions(), (SIDE, SIDE));
        assert!(mean_abs_diff(&one, &two) > 5.0, "noise, pose and clutter change");
        let empty = hand_crop(None, &mut rng);
        assert_eq!(empty.dimensions(), (SIDE, SIDE));
    }
}
