//! How well the tracker followed the simulated people, beside the receipts:
//! at every step, confirmed tracks are matched to the people on the floor
//! (nearest pairs first, within [`MATCH_M`]); the counts say where carts go
//! wrong before fusion sees anything: people missed, tracks following
//! nobody, a person's track id changing (an id switch), and one track
//! passing from one person to another (a swap, the costliest: the cart
//! follows the wrong shopper).

use crate::ids::TrackId;
use crate::vision::tracker::TrackState;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A track this close to a person (m, floor) is following them.
pub const MATCH_M: f64 = 0.6;
/// An unmatched track this close to someone is a duplicate, further a ghost.
pub const DUPLICATE_M: f64 = 1.5;

/// The tracker's scores over a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TrackingQuality {
    /// Steps × people on the floor.
    pub person_steps: u64,
    /// Of those, followed by a track.
    pub followed: u64,
    /// Track steps following nobody (ghosts and duplicates).
    pub false_track_steps: u64,
    /// Of those, within [`DUPLICATE_M`] of someone (a second track on one person).
    pub duplicate_track_steps: u64,
    /// A person's following track id changed.
    pub id_switches: u64,
    /// A track went from following one person to another.
    pub swaps: u64,
    pub people: usize,
    /// People followed by exactly one track id from entry to exit.
    pub people_with_one_id: usize,
    /// Mean distinct track ids per person.
    pub ids_per_person: f64,
    /// `followed / person_steps`.
    pub coverage: f64,
}

#[derive(Default)]
pub struct TrackingScorer {
    q: TrackingQuality,
    current: BTreeMap<u32, TrackId>,
    ids: BTreeMap<u32, BTreeSet<TrackId>>,
    followed_by: BTreeMap<TrackId, u32>,
}

impl TrackingScorer {
    /// One step: `people` are the true floor positions of everyone present.
    pub fn step(&mut self, people: &[(u32, f64, f64)], tracks: &[TrackState]) {
        let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
        for (i, &(_, px, py)) in people.iter().enumerate() {
            for (j, tr) in tracks.iter().enumerate() {
                let d = (tr.x - px).hypot(tr.y - py);
                if d <= MATCH_M {
                    pairs.push((d, i, j));
                }
            }
        }
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let (mut person_used, mut track_used) = (vec![false; people.len()], vec![false; tracks.len()]);
        for (_, i, j) in pairs {
            if person_used[i] || track_used[j] {
                continue;
            }
            (person_used[i], track_used[j]) = (true, true);
            self.follow(people[i].0, &tracks[j].id);
        }
        self.q.person_steps += people.len() as u64;
        self.q.followed += person_used.iter().filter(|u| **u).count() as u64;
        for tr in tracks.iter().zip(&track_used).filter(|(_, used)| !**used).map(|(tr, _)| tr) {
            self.q.false_track_steps += 1;
            if people.iter().any(|&(_, px, py)| (tr.x - px).hypot(tr.y - py) <= DUPLICATE_M) {
                self.q.duplicate_track_steps += 1;
            }
        }
    }

    fn follow(&mut self, person: u32, track: &TrackId) {
        if self.current.get(&person).is_some_and(|t| t != track) {
            self.q.id_switches += 1;
        }
        self.current.insert(person, track.clone());
        self.ids.entry(person).or_default().insert(track.clone());
        if self.followed_by.insert(track.clone(), person).is_some_and(|p| p != person) {
            self.q.swaps += 1;
        }
    }

    /// The totals; `people` is how many people the run had.
    pub fn finish(mut self, people: usize) -> TrackingQuality {
        self.q.people = people;
        self.q.people_with_one_id = self.ids.values().filter(|ids| ids.len() == 1).count();
        let total_ids: usize = self.ids.values().map(BTreeSet::len).sum();
        self.q.ids_per_person = if people > 0 { total_ids as f64 / people as f64 } else { 0.0 };
        self.q.coverage =
            if self.q.person_steps > 0 { self.q.followed as f64 / self.q.person_steps as f64 } else { 0.0 };
        self.q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(id: &str, x: f64, y: f64) -> TrackState {
        TrackState {
            id: TrackId::from(id),
            x,
            y,
            hands: Vec::new(),
            hand_crops: Vec::new(),
            conf: 1.0,
            appearance: None,
        }
    }

    #[test]
    fn counts_switches_swaps_ghosts_and_misses() {
        let mut s = TrackingScorer::default();
        // Two people, each followed; a ghost far away.
        s.step(&[(1, 1.0, 1.0), (2, 3.0, 1.0)], &[track("a", 1.1, 1.0), track("b", 3.0, 1.1), track("g", 6.0, 6.0)]);
        // Person 1's track restarts as "c"; person 2 is missed.
        s.step(&[(1, 1.2, 1.0), (2, 3.2, 1.0)], &[track("c", 1.2, 1.1)]);
        // Track "b" now follows person 1: a swap, and a switch for person 1.
        s.step(&[(1, 1.4, 1.0)], &[track("b", 1.4, 1.0)]);
        let q = s.finish(2);
        assert_eq!((q.person_steps, q.followed, q.false_track_steps), (5, 4, 1));
        assert_eq!((q.id_switches, q.swaps), (2, 1));
        assert_eq!(q.people_with_one_id, 1);
        assert!((q.ids_per_person - 2.0).abs() < 1e-9 && (q.coverage - 0.8).abs() < 1e-9);
    }

    #[test]
    fn the_nearest_pair_wins_when_two_tracks_are_in_range() {
        let mut s = TrackingScorer::default();
        s.step(&[(1, 1.0, 1.0), (2, 1.5, 1.0)], &[track("far", 1.45, 1.0), track("near", 1.05, 1.0)]);
        let q = s.finish(2);
        assert_eq!((q.followed, q.false_track_steps, q.swaps), (2, 0, 0));
    }
}
