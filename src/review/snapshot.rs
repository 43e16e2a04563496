//! Camera snapshots for evidence, pure: a square crop around the shopper's
//! hand at the event time, at the camera's own resolution (never enlarged,
//! at most [`MAX_SIDE`] pixels a side, so a face is kept only if it happens
//! to be next to the hand), with the hand's box and the track's box drawn,
//! encoded as JPEG with the `image` crate.

use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

/// The largest crop side (pixels).
pub const MAX_SIDE: u32 = 256;
/// The smallest crop side (pixels), frame size permitting.
pub const MIN_SIDE: u32 = 96;
/// Hand box outline.
pub const HAND_COLOUR: Rgb<u8> = Rgb([230, 40, 40]);
/// Track box outline.
pub const TRACK_COLOUR: Rgb<u8> = Rgb([250, 200, 0]);

/// A box in frame pixels, `x0 <= x1`, `y0 <= y1` (inclusive corners).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixelBox {
    pub x0: i64,
    pub y0: i64,
    pub x1: i64,
    pub y1: i64,
}

impl PixelBox {
    /// The box with its corners in order.
    pub fn new(x0: i64, y0: i64, x1: i64, y1: i64) -> Self {
        Self { x0: x0.min(x1), y0: y0.min(y1), x1: x0.max(x1), y1: y0.max(y1) }
    }

    pub fn width(&self) -> i64 {
        self.x1 - self.x0 + 1
    }

    pub fn height(&self) -> i64 {
        self.y1 - self.y0 + 1
    }

    fn shifted(&self, dx: i64, dy: i64) -> Self {
        Self { x0: self.x0 - dx, y0: self.y0 - dy, x1: self.x1 - dx, y1: self.y1 - dy }
    }
}

/// The square region of the frame to keep around `hand`: three times the
/// hand box's larger side, between [`MIN_SIDE`] and [`MAX_SIDE`], moved
/// inside the frame at its edges. `None` when the hand is outside the frame.
pub fn crop_region(width: u32, height: u32, hand: PixelBox) -> Option<PixelBox> {
    let (w, h) = (i64::from(width), i64::from(height));
    if w == 0 || h == 0 || hand.x1 < 0 || hand.y1 < 0 || hand.x0 >= w || hand.y0 >= h {
        return None;
    }
    let side = (hand.width().max(hand.height()) * 3).clamp(i64::from(MIN_SIDE), i64::from(MAX_SIDE));
    let (sw, sh) = (side.min(w), side.min(h));
    let (cx, cy) = ((hand.x0 + hand.x1) / 2, (hand.y0 + hand.y1) / 2);
    let x0 = (cx - sw / 2).clamp(0, w - sw);
    let y0 = (cy - sh / 2).clamp(0, h - sh);
    Some(PixelBox { x0, y0, x1: x0 + sw - 1, y1: y0 + sh - 1 })
}

/// Draws a 2-pixel outline of `b` (clipped to the image).
pub fn draw_box(img: &mut RgbImage, b: PixelBox, colour: Rgb<u8>) {
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let mut put = |x: i64, y: i64| {
        if (0..w).contains(&x) && (0..h).contains(&y) {
            img.put_pixel(x as u32, y as u32, colour);
        }
    };
    for t in 0..2 {
        for x in b.x0..=b.x1 {
            put(x, b.y0 + t);
            put(x, b.y1 - t);
        }
        for y in b.y0..=b.y1 {
            put(b.x0 + t, y);
            put(b.x1 - t, y);
        }
    }
}

/// The evidence crop of `frame` around `hand`, with both boxes drawn.
pub fn crop_snapshot(frame: &RgbImage, hand: PixelBox, track: Option<PixelBox>) -> Option<RgbImage> {
    let region = crop_region(frame.width(), frame.height(), hand)?;
    let view = image::imageops::crop_imm(
        frame,
        region.x0 as u32,
        region.y0 as u32,
        region.width() as u32,
        region.height() as u32,
    );
    let mut crop = view.to_image();
    if let Some(t) = track {
        draw_box(&mut crop, t.shifted(region.x0, region.y0), TRACK_COLOUR);
    }
    draw_box(&mut crop, hand.shifted(region.x0, region.y0), HAND_COLOUR);
    Some(crop)
}

/// JPEG bytes of an image (`quality` 1-100).
pub fn encode_jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100));
    img.write_with_encoder(encoder)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crop_is_around_the_hand_bounded_and_inside_the_frame() {
        let r = crop_region(640, 360, PixelBox::new(300, 150, 319, 169)).unwrap();
        assert_eq!((r.width(), r.height()), (96, 96), "3 x 20 px is under the minimum");
        assert!(r.x0 <= 300 && r.x1 >= 319 && r.y0 <= 150 && r.y1 >= 169);
        let big = crop_region(640, 360, PixelBox::new(100, 100, 299, 299)).unwrap();
        assert_eq!(big.width(), i64::from(MAX_SIDE), "never more than the maximum");
        let edge = crop_region(640, 360, PixelBox::new(630, 350, 639, 359)).unwrap();
        assert_eq!((edge.x1, edge.y1), (639, 359), "moved inside at the corner");
        let small = crop_region(80, 60, PixelBox::new(10, 10, 20, 20)).unwrap();
        assert_eq!((small.width(), small.height()), (80, 60), "a small frame is never enlarged");
        assert!(crop_region(640, 360, PixelBox::new(700, 10, 720, 30)).is_none());
        assert!(crop_region(640, 360, PixelBox::new(-40, 10, -20, 30)).is_none());
    }

    #[test]
    fn both_boxes_are_drawn_in_crop_coordinates() {
        let frame = RgbImage::from_pixel(640, 360, Rgb([10, 10, 10]));
        let hand = PixelBox::new(300, 150, 319, 169);
        let track = PixelBox::new(280, 120, 340, 300);
        let crop = crop_snapshot(&frame, hand, Some(track)).unwrap();
        let region = crop_region(640, 360, hand).unwrap();
        let at = |x: i64, y: i64| *crop.get_pixel((x - region.x0) as u32, (y - region.y0) as u32);
        assert_eq!(at(300, 150), HAND_COLOUR);
        assert_eq!(at(319, 160), HAND_COLOUR);
        assert_eq!(at(310, 160), Rgb([10, 10, 10]), "the inside of the hand box is the frame");
        assert_eq!(at(270, 150), Rgb([10, 10, 10]));
        assert_eq!(at(280, 160), TRACK_COLOUR, "the track's left side is in view");
        assert_eq!(at(281, 200), TRACK_COLOUR);
        let jpeg = encode_jpeg(&crop, 85).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "a JPEG");
        let back = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((back.width(), back.height()), (crop.width(), crop.height()));
    }
}
