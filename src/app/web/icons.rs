//! The app's icons, drawn from a few shapes: a white shopping bag with a
//! "walk out" arrow on the app's green. `web/shopper/icons/*.png` are this
//! code's output; the test checks that they still are, and rewrites them
//! when run with `WALKOUT_WRITE_ICONS=1`:
//!
//! ```sh
//! WALKOUT_WRITE_ICONS=1 cargo test --lib app::web::icons
//! ```

use image::{Rgba, RgbaImage};

const GREEN: [u8; 3] = [0x0b, 0x6e, 0x4f];
const WHITE: [u8; 3] = [0xff, 0xff, 0xff];

/// How an icon is cut: `any` icons have rounded corners and the glyph at
/// full size; full-bleed ones (maskable, Apple touch) fill the square and keep
/// the glyph inside the maskable safe zone (the centre circle of 80 %).
#[derive(Clone, Copy)]
struct Style {
    full_bleed: bool,
}

fn rounded_rect(x: f32, y: f32, (x0, y0, x1, y1): (f32, f32, f32, f32), r: f32) -> bool {
    let cx = x.clamp(x0 + r, x1 - r);
    let cy = y.clamp(y0 + r, y1 - r);
    x >= x0 && x <= x1 && y >= y0 && y <= y1 && (x - cx).powi(2) + (y - cy).powi(2) <= r * r
}

/// Inside the triangle a, b, c (any winding).
fn triangle(p: (f32, f32), a: (f32, f32), b: (f32, f32), c: (f32, f32)) -> bool {
    let side = |u: (f32, f32), v: (f32, f32)| (v.0 - u.0) * (p.1 - u.1) - (v.1 - u.1) * (p.0 - u.0);
    let (d1, d2, d3) = (side(a, b), side(b, c), side(c, a));
    !((d1 < 0.0 || d2 < 0.0 || d3 < 0.0) && (d1 > 0.0 || d2 > 0.0 || d3 > 0.0))
}

/// The colour at a point of the unit square, `None` where transparent.
fn shade(x: f32, y: f32, style: Style) -> Option<[u8; 3]> {
    if !style.full_bleed && !rounded_rect(x, y, (0.0, 0.0, 1.0, 1.0), 0.22) {
        return None;
    }
    // The glyph is drawn for a unit square and shrunk about the centre when full-bleed.
    let k = if style.full_bleed { 0.78 } else { 1.0 };
    let (u, v) = ((x - 0.5) / k + 0.5, (y - 0.5) / k + 0.5);
    let arrow = rounded_rect(u, v, (0.35, 0.565, 0.56, 0.625), 0.0)
        || triangle((u, v), (0.54, 0.505), (0.54, 0.685), (0.66, 0.595));
    let bag = rounded_rect(u, v, (0.27, 0.38, 0.73, 0.80), 0.05);
    let d = ((u - 0.5).powi(2) + (v - 0.38).powi(2)).sqrt();
    let handle = v <= 0.38 && (0.105..=0.155).contains(&d);
    Some(if (bag && !arrow) || handle { WHITE } else { GREEN })
}

/// A `size` x `size` icon, anti-aliased with 4 x 4 samples per pixel.
fn draw(size: u32, style: Style) -> RgbaImage {
    const N: u32 = 4;
    RgbaImage::from_fn(size, size, |px, py| {
        let (mut rgb, mut alpha) = ([0u32; 3], 0u32);
        for sy in 0..N {
            for sx in 0..N {
                let x = (px as f32 + (sx as f32 + 0.5) / N as f32) / size as f32;
                let y = (py as f32 + (sy as f32 + 0.5) / N as f32) / size as f32;
                if let Some(c) = shade(x, y, style) {
                    alpha += 1;
                    rgb.iter_mut().zip(c).for_each(|(sum, v)| *sum += u32::from(v));
                }
            }
        }
        if alpha == 0 {
            return Rgba([0, 0, 0, 0]);
        }
        let [r, g, b] = rgb.map(|s| u8::try_from(s / alpha).unwrap_or(u8::MAX));
        Rgba([r, g, b, u8::try_from(alpha * 255 / (N * N)).unwrap_or(u8::MAX)])
    })
}

/// Every icon: its path under `web/shopper/`, size, and cut.
const ICONS: &[(&str, u32, bool)] = &[
    ("icons/icon-192.png", 192, false),
    ("icons/icon-512.png", 512, false),
    ("icons/maskable-512.png", 512, true),
    ("icons/apple-touch-icon.png", 180, true),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_icons_are_the_drawn_ones() {
        let write = std::env::var("WALKOUT_WRITE_ICONS").is_ok_and(|v| v == "1");
        for &(path, size, full_bleed) in ICONS {
            let drawn = draw(size, Style { full_bleed });
            if write {
                let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/shopper").join(path);
                drawn.save(&file).unwrap();
                continue;
            }
            let asset = super::super::assets::find(path).unwrap_or_else(|| panic!("{path} is not embedded"));
            let committed = image::load_from_memory(asset.body).unwrap().to_rgba8();
            assert_eq!(committed.dimensions(), (size, size), "{path}");
            assert!(committed == drawn, "{path} differs from the drawing: WALKOUT_WRITE_ICONS=1 rewrites it");
        }
    }

    #[test]
    fn full_bleed_icons_are_opaque_and_keep_the_glyph_in_the_safe_zone() {
        let icon = draw(128, Style { full_bleed: true });
        assert!(icon.pixels().all(|p| p[3] == 255));
        // Everything outside the centre circle of 80 % is plain background.
        for (x, y, p) in icon.enumerate_pixels() {
            let (dx, dy) = (x as f32 + 0.5 - 64.0, y as f32 + 0.5 - 64.0);
            if (dx * dx + dy * dy).sqrt() > 0.4 * 128.0 {
                assert_eq!(p.0, [GREEN[0], GREEN[1], GREEN[2], 255], "({x}, {y})");
            }
        }
        let rounded = draw(128, Style { full_bleed: false });
        assert_eq!(rounded.get_pixel(0, 0)[3], 0, "rounded corners are transparent");
    }
}
