//! How each track looks: the tracker's running clothing embedding (of the
//! torso; never a face, never kept past the visit), and the look it
//! settled on shortly after it was first seen. The settled look of a
//! shopper who came in alone says who that visit is; a track of that
//! visit that takes an item while looking like someone else may have been
//! swapped by the tracker onto another shopper (two passing close at the
//! entrance), and the visit whose shopper it now looks like may be the
//! one who took it. A track of any visit that looks just like another
//! visit's shopper (a newcomer split off beside the wrong party) is as
//! doubtful.

use crate::ids::TrackId;
use crate::vision::tracker::appearance_distance;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct LookParams {
    /// A track's look settles this long (s) after it was first seen: the
    /// running embedding has then absorbed enough detections.
    pub settle_s: f64,
    /// An actor whose look is further than this (`(1 - cos) / 2`) from the
    /// settled look of the shopper who came in for its visit alone flags
    /// the visit: the track may be someone else.
    pub changed_above: f64,
    /// An actor whose look is nearer than this to the settled look of
    /// another visit's gate member is taken for that shopper: both visits
    /// go to staff (re-identification calls 0.1 the same person; on the
    /// simulator no right event's actor came within 0.1 of another visit's
    /// shopper, while most of those given to the wrong visit were within 0.02).
    pub same_below: f64,
}

impl Default for LookParams {
    fn default() -> Self {
        Self { settle_s: 2.0, changed_above: 0.15, same_below: 0.05 }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct TrackLook {
    first_t: f64,
    last_t: f64,
    now: Vec<f32>,
    settled: Option<Vec<f32>>,
}

/// The looks of every track reported with an embedding.
#[derive(Clone, Debug, Default)]
pub struct Looks {
    tracks: BTreeMap<TrackId, TrackLook>,
}

impl Looks {
    /// One report of `track` at `t` (one without an embedding only keeps
    /// a known track from being forgotten).
    pub fn observe(&mut self, t: f64, track: &TrackId, appearance: Option<&[f32]>, settle_s: f64) {
        let Some(look) = appearance.filter(|a| !a.is_empty()) else {
            if let Some(known) = self.tracks.get_mut(track) {
                known.last_t = t;
            }
            return;
        };
        let entry = self.tracks.entry(track.clone()).or_insert_with(|| TrackLook {
            first_t: t,
            last_t: t,
            now: look.to_vec(),
            settled: None,
        });
        entry.last_t = t;
        entry.now.clear();
        entry.now.extend_from_slice(look);
        if entry.settled.is_none() && t - entry.first_t >= settle_s {
            entry.settled = Some(entry.now.clone());
        }
    }

    /// The track's latest look.
    pub fn now(&self, track: &TrackId) -> Option<&[f32]> {
        self.tracks.get(track).map(|l| l.now.as_slice())
    }

    /// The look the track settled on after it was first seen (its latest
    /// while it has not settled yet).
    pub fn settled(&self, track: &TrackId) -> Option<&[f32]> {
        self.tracks.get(track).map(|l| l.settled.as_deref().unwrap_or(&l.now))
    }

    /// The distance from `track`'s latest look to the nearest settled look
    /// of `of` (None when either side has no embedding).
    pub fn distance_to<'a>(&self, track: &TrackId, of: impl IntoIterator<Item = &'a TrackId>) -> Option<f64> {
        let now = self.now(track)?;
        of.into_iter().filter_map(|o| appearance_distance(Some(now), self.settled(o))).min_by(f64::total_cmp)
    }

    /// The track, other than `except` and seen since `since`, whose latest
    /// look is nearest the settled look of any of `of`, when within `below`:
    /// who is wearing those clothes now.
    pub fn wearing<'a>(
        &self,
        of: impl IntoIterator<Item = &'a TrackId>,
        except: &TrackId,
        since: f64,
        below: f64,
    ) -> Option<&TrackId> {
        let settled: Vec<&[f32]> = of.into_iter().filter_map(|o| self.settled(o)).collect();
        self.tracks
            .iter()
            .filter(|(id, l)| *id != except && l.last_t >= since)
            .filter_map(|(id, l)| {
                let d =
                    settled.iter().filter_map(|s| appearance_distance(Some(&l.now), Some(s))).min_by(f64::total_cmp)?;
                Some((id, d))
            })
            .filter(|(_, d)| *d < below)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(id, _)| id)
    }

    /// Forgets tracks last reported before `t`.
    pub fn forget_before(&mut self, t: f64) {
        self.tracks.retain(|_, l| l.last_t >= t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_look_settles_after_a_while_and_the_latest_is_compared_with_it() {
        let mut looks = Looks::default();
        let (a, b) = (TrackId::from("a"), TrackId::from("b"));
        looks.observe(10.0, &a, Some(&[1.0, 0.0]), 2.0);
        looks.observe(11.0, &a, Some(&[0.8, 0.6]), 2.0);
        assert_eq!(looks.settled(&a), Some(&[0.8, 0.6][..]), "unsettled: the latest");
        looks.observe(12.0, &a, Some(&[1.0, 0.0]), 2.0);
        looks.observe(20.0, &a, Some(&[0.0, 1.0]), 2.0);
        assert_eq!(looks.settled(&a), Some(&[1.0, 0.0][..]));
        assert_eq!(looks.now(&a), Some(&[0.0, 1.0][..]));
        assert_eq!(looks.distance_to(&a, [&a]), Some(0.5));
        looks.observe(20.0, &b, Some(&[0.0, 1.0]), 2.0);
        assert_eq!(looks.distance_to(&a, [&a, &b]), Some(0.0), "the nearest member counts");
        let w = TrackId::from("w");
        looks.observe(20.0, &w, Some(&[1.0, 0.0]), 2.0);
        assert_eq!(looks.wearing([&a], &a, 0.0, 0.05), Some(&w), "w wears what a came in with");
        assert_eq!(looks.wearing([&a], &w, 0.0, 0.05), None, "a itself (and b) wear something else");
        assert_eq!(looks.wearing([&a], &a, 20.5, 0.05), None, "w not seen since");
        looks.observe(21.0, &b, None, 2.0);
        assert_eq!(looks.distance_to(&TrackId::from("c"), [&a]), None, "no embedding, no distance");
        looks.forget_before(20.5);
        assert!(looks.now(&a).is_none() && looks.now(&w).is_none() && looks.now(&b).is_some());
    }
}
