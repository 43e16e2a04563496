//! One track: its Kalman filter, lifecycle state and clothing appearance.
//!
//! Lifecycle: `Tentative` (born from an unexplained detection) becomes
//! `Confirmed` after `confirm_hits` updates, or dies after
//! `tentative_timeout_s` unseen; `Confirmed` becomes `Lost` after
//! `lost_after_s` unseen; `Lost` can be re-identified (same id) for
//! `reid_window_s`, then is deleted.

use super::kalman::Kalman;
use crate::ids::TrackId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Tentative,
    Confirmed,
    Lost,
}

#[derive(Clone, Debug)]
pub struct Track {
    pub id: TrackId,
    pub kalman: Kalman,
    pub status: Status,
    /// Updates received (one per time step with at least one observation).
    pub hits: u32,
    pub last_seen: f64,
    /// Confidence at the last update: that at least one assigned detection is right.
    pub conf_seen: f64,
    /// Running mean of the clothing embeddings, unit length.
    pub appearance: Option<Vec<f32>>,
    /// Hands located at the last update (world metres).
    pub hands: Vec<[f64; 3]>,
    /// Hand crops of the last update's detections.
    pub hand_crops: Vec<crate::vision::hand_crop::HandCrop>,
}

impl Track {
    pub fn new(id: TrackId, at: [f64; 2], t: f64, sigma_pos: f64, sigma_vel: f64) -> Self {
        Self {
            id,
            kalman: Kalman::new(at[0], at[1], sigma_pos, sigma_vel),
            status: Status::Tentative,
            hits: 0,
            last_seen: t,
            conf_seen: 0.0,
            appearance: None,
            hands: Vec::new(),
            hand_crops: Vec::new(),
        }
    }

    /// Predicted, filtered or (when lost) last known floor position.
    pub fn position(&self) -> [f64; 2] {
        self.kalman.position()
    }

    pub fn is_active(&self) -> bool {
        self.status != Status::Lost
    }

    /// Blends a new embedding into the running appearance (`rate` = weight of
    /// the new one) and renormalises.
    pub fn absorb_appearance(&mut self, embedding: &[f32], rate: f32) {
        match &mut self.appearance {
            Some(a) if a.len() == embedding.len() => {
                for (v, e) in a.iter_mut().zip(embedding) {
                    *v = (1.0 - rate) * *v + rate * e;
                }
                let n = a.iter().map(|v| v * v).sum::<f32>().sqrt();
                if n > 0.0 && n.is_finite() {
                    a.iter_mut().for_each(|v| *v /= n);
                }
            }
            _ => self.appearance = Some(crate::vision::decode::l2_normalise(embedding)),
        }
    }

    /// Appearance distance to an embedding in `[0, 1]` (`(1 - cos) / 2`);
    /// `None` when either side has none or the lengths differ.
    pub fn appearance_distance(&self, embedding: Option<&[f32]>) -> Option<f64> {
        appearance_distance(self.appearance.as_deref(), embedding)
    }
}

/// `(1 - cos) / 2` of two unit vectors, `None` when either is missing, they
/// differ in length, or the result is not finite.
pub fn appearance_distance(a: Option<&[f32]>, b: Option<&[f32]>) -> Option<f64> {
    let (a, b) = (a?, b?);
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let cos: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let d = ((1.0 - cos as f64) / 2.0).clamp(0.0, 1.0);
    d.is_finite().then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appearance_is_a_normalised_running_mean() {
        let mut t = Track::new(TrackId::from("t1"), [0.0, 0.0], 0.0, 0.3, 1.0);
        assert_eq!(t.appearance_distance(Some(&[1.0, 0.0])), None);
        t.absorb_appearance(&[2.0, 0.0], 0.2);
        assert_eq!(t.appearance.as_deref(), Some(&[1.0, 0.0][..]));
        t.absorb_appearance(&[0.0, 1.0], 0.5);
        let a = t.appearance.clone().unwrap();
        assert!((a[0] - a[1]).abs() < 1e-6 && (a[0] * a[0] + a[1] * a[1] - 1.0).abs() < 1e-6);
        assert!(t.appearance_distance(Some(&[1.0, 0.0])).unwrap() > 0.0);
        assert_eq!(appearance_distance(Some(&[1.0, 0.0]), Some(&[-1.0, 0.0])), Some(1.0));
        assert_eq!(appearance_distance(Some(&[1.0]), Some(&[1.0, 0.0])), None);
    }
}
