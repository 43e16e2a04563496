//! Hand crops in the simulated store. Who holds what, when ([`Holding`]:
//! from the touch of a pick until the item is stowed in the basket, or from
//! taking an item out until it touches the shelf again), and what the vision
//! node would say about a crop around a hand: a match list drawn from a bank
//! ([`CropBank`]) of real gallery matches, each made by rendering a hand
//! crop ([`super::looks::hand_crop`]) and running the real embedding model
//! on it against the demo gallery (`walkout gallery demo` builds both; the
//! bank ships as `calibration/demo-store/hand-crops.json`). The simulator
//! never decides a match itself: a held item that the camera cannot make
//! out (in the palm, turned away) is drawn from the empty-hand crops.

use super::{Action, ActionKind, PersonPlan};
use crate::catalog::gallery::{Gallery, ItemMatch};
use crate::ids::Sku;
use rand::RngExt;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A hand holding an item over a time span.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Holding {
    pub person: u32,
    pub right_hand: bool,
    pub from: f64,
    pub to: f64,
    pub sku: Sku,
}

/// Every holding implied by the actions: a pick is held from its touch
/// until 0.3-2 s after the hand is back; a put-back from 1-3 s before the
/// reach starts until the touch.
pub fn holdings(people: &[PersonPlan], actions: &[Action], seed: u64) -> Vec<Holding> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x401D_1265);
    let mut out = Vec::new();
    for a in actions {
        let Some(person) = people.iter().find(|p| p.id == a.person) else { continue };
        let Some(reach) = person.reaches.iter().find(|r| (r.t_touch - a.t).abs() < 1e-9) else { continue };
        let (from, to) = match a.kind {
            ActionKind::Pick => (reach.t_touch, reach.t_end + rng.random_range(0.3..2.0)),
            ActionKind::PutBack => (reach.t_start - rng.random_range(1.0..3.0), reach.t_touch),
        };
        out.push(Holding { person: a.person, right_hand: reach.right_hand, from, to, sku: a.sku.clone() });
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum CropBankError {
    #[error("cannot read hand-crop bank {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("cannot write hand-crop bank {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("hand-crop bank {0} has no empty-hand crops")]
    NoEmpty(PathBuf),
    #[error("the hand-crop bank was matched against a gallery of {bank}, the gallery is of {gallery}")]
    OtherGallery { bank: String, gallery: String },
}

/// Gallery matches of rendered hand crops: per product held, and of empty hands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CropBank {
    /// The model of the gallery the crops were matched against
    /// ([`Gallery::model_id`]: name and file checksum).
    pub gallery_model: String,
    pub held: BTreeMap<Sku, Vec<Vec<ItemMatch>>>,
    pub empty: Vec<Vec<ItemMatch>>,
}

impl CropBank {
    pub fn load(path: &Path) -> Result<Self, CropBankError> {
        let read = |reason: String| CropBankError::Read { path: path.into(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| read(e.to_string()))?;
        let bank: CropBank = serde_json::from_str(&text).map_err(|e| read(e.to_string()))?;
        if bank.empty.is_empty() {
            return Err(CropBankError::NoEmpty(path.into()));
        }
        Ok(bank)
    }

    /// Refuses a bank matched against a gallery of another model: its
    /// matches would not be what the cameras report with `gallery`.
    pub fn check_gallery(&self, gallery: &Gallery) -> Result<(), CropBankError> {
        if self.gallery_model != gallery.model_id() {
            return Err(CropBankError::OtherGallery { bank: self.gallery_model.clone(), gallery: gallery.model_id() });
        }
        Ok(())
    }

    pub fn save(&self, path: &Path) -> Result<(), CropBankError> {
        let write = |reason: String| CropBankError::Write { path: path.into(), reason };
        let text = serde_json::to_string(self).map_err(|e| write(e.to_string()))?;
        std::fs::write(path, text).map_err(|e| write(e.to_string()))
    }

    /// What the vision node reports for a crop of a hand holding `sku`
    /// (None: empty): a held item is made out with `1 - hidden_p`.
    pub fn draw(&self, sku: Option<&Sku>, hidden_p: f64, rng: &mut Xoshiro256PlusPlus) -> Option<Vec<ItemMatch>> {
        let pick = |crops: &[Vec<ItemMatch>], rng: &mut Xoshiro256PlusPlus| {
            (!crops.is_empty()).then(|| crops[rng.random_range(0..crops.len())].clone())
        };
        match sku.and_then(|s| self.held.get(s)) {
            Some(crops) if rng.random::<f64>() >= hidden_p => pick(crops, rng),
            _ => pick(&self.empty, rng),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Reach;

    fn m(sku: &str, score: f32) -> ItemMatch {
        ItemMatch { sku: Sku::from(sku), score }
    }

    #[test]
    fn a_pick_is_held_from_the_touch_and_a_put_back_until_it() {
        let reach = |t_touch: f64| Reach {
            t_start: t_touch - 0.6,
            t_touch,
            t_end: t_touch + 1.5,
            right_hand: true,
            target: [0.0; 3],
        };
        let person = PersonPlan {
            id: 3,
            party: 1,
            height_m: 1.7,
            appearance: vec![1.0],
            path: vec![],
            reaches: vec![reach(10.0), reach(20.0)],
        };
        let action = |t: f64, kind| Action {
            t,
            person: 3,
            party: 1,
            kind,
            sku: Sku::from("A"),
            qty: 1,
            plates: vec![],
            tags: vec![],
        };
        let h = holdings(&[person], &[action(10.0, ActionKind::Pick), action(20.0, ActionKind::PutBack)], 1);
        assert_eq!(h.len(), 2);
        assert!(h[0].from == 10.0 && h[0].to >= 11.8 && h[0].to <= 13.5, "{:?}", h[0]);
        assert!(h[1].to == 20.0 && h[1].from <= 18.4 && h[1].from >= 16.4, "{:?}", h[1]);
        assert!(h.iter().all(|h| h.right_hand && h.person == 3));
    }

    #[test]
    fn a_held_item_is_drawn_from_its_crops_unless_hidden() {
        let bank = CropBank {
            gallery_model: "toy".into(),
            held: BTreeMap::from([(Sku::from("A"), vec![vec![m("A", 0.9)]])]),
            empty: vec![vec![m("B", 0.4)]],
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        assert_eq!(bank.draw(Some(&Sku::from("A")), 0.0, &mut rng), Some(vec![m("A", 0.9)]));
        assert_eq!(bank.draw(Some(&Sku::from("A")), 1.0, &mut rng), Some(vec![m("B", 0.4)]));
        assert_eq!(bank.draw(None, 0.0, &mut rng), Some(vec![m("B", 0.4)]));
        assert_eq!(bank.draw(Some(&Sku::from("Z")), 0.0, &mut rng), Some(vec![m("B", 0.4)]), "no crops of it: unseen");
        assert!(bank.check_gallery(&Gallery::new("toy", "abc", 3)).is_err(), "name without checksum");
        let bank = CropBank { gallery_model: "toy (abc)".into(), ..bank };
        assert!(bank.check_gallery(&Gallery::new("toy", "abc", 3)).is_ok());
    }
}
