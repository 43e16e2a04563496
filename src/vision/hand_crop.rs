//! What a camera saw in a shopper's hand: the region around a visible wrist
//! keypoint is embedded by the product-embedding model and matched against
//! the store's product gallery; the observation carries only the best
//! matches ([`HandCrop`]), not the pixels or the embedding, so the vision
//! node's MQTT frames stay small. Fusion reads them as evidence of who holds
//! which product just after a pick (or just before a put-back).

use super::decode::{BoxPx, Person};
use super::model::{Model, ModelError};
use crate::catalog::gallery::{GalleryIndex, ItemMatch, TOP_K};
use image::RgbImage;
use serde::{Deserialize, Serialize};

/// COCO wrist keypoints (left, right).
pub const WRISTS: [u8; 2] = [9, 10];
/// At most this many matches per crop are accepted on the wire.
pub const MAX_MATCHES: usize = 16;

/// The gallery's best matches for the crop around one wrist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HandCrop {
    /// COCO keypoint index of the wrist (9 left, 10 right).
    pub wrist: u8,
    /// Best first.
    pub matches: Vec<ItemMatch>,
}

impl HandCrop {
    /// Why a crop from the wire is unusable, if it is.
    pub fn problem(&self) -> Option<&'static str> {
        if !WRISTS.contains(&self.wrist) {
            return Some("hand crop wrist is not keypoint 9 or 10");
        }
        if self.matches.len() > MAX_MATCHES {
            return Some("hand crop has too many matches");
        }
        if !self.matches.iter().all(|m| m.score.is_finite() && (-1.01..=1.01).contains(&m.score)) {
            return Some("hand crop match score is not a cosine");
        }
        if self.matches.iter().any(|m| m.sku.as_str().is_empty() || m.sku.as_str().len() > 64) {
            return Some("hand crop match has no usable SKU");
        }
        None
    }

    /// The product the crop looks most like, if any.
    pub fn top(&self) -> Option<&ItemMatch> {
        self.matches.first()
    }
}

/// The square around a wrist: a quarter of the person's box height on
/// each side of it (a hand and what it holds), clipped to the image;
/// `None` when the wrist is not seen or the square is under 16 px.
pub fn wrist_box(person: &Person, wrist: u8, image: &RgbImage) -> Option<BoxPx> {
    let k = person.keypoints.get(usize::from(wrist)).filter(|k| k.visible)?;
    let half = (person.bbox.height() * 0.25).max(8.0);
    let (w, h) = (image.width() as f32, image.height() as f32);
    let b = BoxPx {
        x0: (k.x - half).max(0.0),
        y0: (k.y - half).max(0.0),
        x1: (k.x + half).min(w),
        y1: (k.y + half).min(h),
    };
    (b.width() >= 16.0 && b.height() >= 16.0).then_some(b)
}

/// The crops of every visible wrist of one detected person, matched against
/// the gallery (the live path; the simulator makes its own).
pub fn crops_of(
    person: &Person,
    image: &RgbImage,
    model: &mut Model,
    gallery: &GalleryIndex,
) -> Result<Vec<HandCrop>, ModelError> {
    let mut out = Vec::new();
    for wrist in WRISTS {
        let Some(region) = wrist_box(person, wrist, image) else { continue };
        let embedding = model.embed_region(image, region)?;
        let matches = gallery.best(&embedding, TOP_K);
        if !matches.is_empty() {
            out.push(HandCrop { wrist, matches });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Sku;
    use crate::vision::decode::movenet::Keypoint;

    fn person_with_wrist_at(x: f32, y: f32, visible: bool) -> Person {
        let mut keypoints = vec![Keypoint { x: 0.0, y: 0.0, score: 0.0, visible: false }; 17];
        keypoints[10] = Keypoint { x, y, score: 0.8, visible };
        Person { bbox: BoxPx { x0: 100.0, y0: 100.0, x1: 160.0, y1: 300.0 }, score: 0.9, keypoints }
    }

    #[test]
    fn the_wrist_box_surrounds_a_seen_wrist_and_stays_in_the_image() {
        let img = RgbImage::new(640, 360);
        let b = wrist_box(&person_with_wrist_at(130.0, 200.0, true), 10, &img).unwrap();
        assert_eq!((b.x0, b.y0, b.x1, b.y1), (80.0, 150.0, 180.0, 250.0));
        let edge = wrist_box(&person_with_wrist_at(5.0, 355.0, true), 10, &img).unwrap();
        assert_eq!((edge.x0, edge.y1), (0.0, 360.0));
        assert!(wrist_box(&person_with_wrist_at(130.0, 200.0, false), 10, &img).is_none(), "unseen wrist");
        assert!(wrist_box(&person_with_wrist_at(130.0, 200.0, true), 9, &img).is_none(), "the other wrist is unseen");
    }

    #[test]
    fn crops_from_the_wire_are_checked() {
        let ok = HandCrop { wrist: 9, matches: vec![ItemMatch { sku: Sku::from("DM-0001"), score: 0.8 }] };
        assert_eq!(ok.problem(), None);
        assert_eq!(ok.top().map(|m| m.sku.as_str()), Some("DM-0001"));
        assert!(HandCrop { wrist: 4, ..ok.clone() }.problem().is_some());
        let nan = HandCrop { wrist: 9, matches: vec![ItemMatch { sku: Sku::from("A"), score: f32::NAN }] };
        assert!(nan.problem().is_some());
        let no_sku = HandCrop { wrist: 9, matches: vec![ItemMatch { sku: Sku::from(""), score: 0.5 }] };
        assert!(no_sku.problem().is_some());
    }
}
