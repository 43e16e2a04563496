//! Whether fusion linked each track to the right visit, by the simulator's
//! truth: every detection carries the person it came from, so each track
//! follows the person whose detections it was given most. A track linked
//! to a visit of another party is a wrong link (that party's picks land on
//! the wrong receipt); a person's track linked to no visit loses picks.

use crate::fusion::visits::{LinkedBy, VisitLinks};
use crate::ids::{TrackId, VisitId};
use crate::vision::tracker::ObservationOutcome;
use serde::Serialize;
use std::collections::BTreeMap;

/// Links made by one rule, judged by the truth.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RuleLinks {
    pub right: usize,
    pub wrong: usize,
    pub ghost: usize,
}

/// Linking quality over a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LinkingQuality {
    /// Tracks that got at least one detection.
    pub tracks: usize,
    /// Tracks linked to a visit...
    pub linked: usize,
    /// ...of which following someone of that visit's party.
    pub linked_right: usize,
    /// ...following someone of another party.
    pub linked_wrong: usize,
    /// ...following nobody (false detections).
    pub linked_ghost: usize,
    /// Links by how they were made (`gate`, `rejoin`, `split`): right and wrong.
    pub by_rule: BTreeMap<String, RuleLinks>,
    /// Tracks following a person but linked to no visit.
    pub unlinked_people_tracks: usize,
    /// Tracks whose detections came from more than one person (under 90 % from one).
    pub mixed_tracks: usize,
    /// One line per wrong link: visit, track, who it followed, when and where it started.
    pub wrong: Vec<String>,
    /// One line per unlinked track of a person: who, when and where it started and ended.
    pub unlinked: Vec<String>,
    /// One line per visit: its party and each member track with the person it followed.
    pub visits: Vec<String>,
}

#[derive(Default)]
struct TrackVotes {
    by_person: BTreeMap<Option<u32>, u64>,
    first: Option<(f64, [f64; 2])>,
    last: Option<(f64, [f64; 2])>,
}

impl TrackVotes {
    fn majority(&self) -> (Option<u32>, f64) {
        let total: u64 = self.by_person.values().sum();
        let best = self.by_person.iter().max_by_key(|(p, n)| (**n, std::cmp::Reverse(**p)));
        best.map_or((None, 0.0), |(p, n)| (*p, *n as f64 / total.max(1) as f64))
    }
}

#[derive(Default)]
pub struct LinkingScorer {
    votes: BTreeMap<TrackId, TrackVotes>,
}

impl LinkingScorer {
    /// One frame: the truth label of each detection and what the tracker made of it, in the same order.
    pub fn step(&mut self, t: f64, truths: &[Option<u32>], outcomes: &[ObservationOutcome]) {
        for (truth, outcome) in truths.iter().zip(outcomes) {
            let Some(track) = &outcome.track else { continue };
            let votes = self.votes.entry(track.clone()).or_default();
            *votes.by_person.entry(*truth).or_insert(0) += 1;
            let at = outcome.floor.as_ref().map(|f| (t, [f.x, f.y]));
            if votes.first.is_none() {
                votes.first = at;
            }
            votes.last = at.or(votes.last);
        }
    }

    /// The person each track followed most (tracks of false detections left out).
    pub fn track_people(&self) -> BTreeMap<TrackId, u32> {
        self.votes.iter().filter_map(|(t, v)| Some((t.clone(), v.majority().0?))).collect()
    }

    /// `members`: each visit's tracks; `visit_party` and `person_party` map visits and people to parties.
    pub fn finish(
        self,
        members: &[VisitLinks],
        visit_party: &BTreeMap<VisitId, u32>,
        person_party: &BTreeMap<u32, u32>,
    ) -> LinkingQuality {
        let mut q = LinkingQuality { tracks: self.votes.len(), ..LinkingQuality::default() };
        let mut owner: BTreeMap<&TrackId, &VisitId> = BTreeMap::new();
        let mut rule: BTreeMap<&TrackId, LinkedBy> = BTreeMap::new();
        for (visit, _, tracks) in members {
            for (t, how) in tracks {
                owner.insert(t, visit);
                rule.insert(t, *how);
            }
        }
        for (visit, scan_t, tracks) in members {
            let described: Vec<String> = tracks
                .iter()
                .map(|(t, how)| match self.votes.get(t) {
                    Some(v) => {
                        let (person, share) = v.majority();
                        let (s, e) = (v.first.unwrap_or_default(), v.last.unwrap_or_default());
                        format!("{t}=person {person:?} ({:.0} %) {:.1}-{:.1} by {how:?}", 100.0 * share, s.0, e.0)
                    }
                    None => format!("{t}=no detections"),
                })
                .collect();
            q.visits.push(format!(
                "{visit} party {:?} scanned {scan_t:.1}: {}",
                visit_party.get(visit),
                described.join(", ")
            ));
        }
        for (track, votes) in &self.votes {
            let (person, share) = votes.majority();
            q.mixed_tracks += usize::from(share < 0.9);
            match (owner.get(track), person) {
                (None, Some(person)) => {
                    q.unlinked_people_tracks += 1;
                    let ((t0, a), (t1, b)) = (votes.first.unwrap_or_default(), votes.last.unwrap_or_default());
                    let others: Vec<String> = self
                        .votes
                        .iter()
                        .filter(|(other, v)| *other != track && v.majority().0 == Some(person))
                        .map(|(other, v)| {
                            let (s, e) = (v.first.unwrap_or_default(), v.last.unwrap_or_default());
                            let visit = owner.get(other).map_or("unlinked".to_owned(), |v| v.to_string());
                            format!("{other} {:.1}-{:.1} {visit}", s.0, e.0)
                        })
                        .collect();
                    q.unlinked.push(format!(
                        "{track} following person {person} (party {:?}) from t={t0:.1} ({:.2}, {:.2}) to t={t1:.1} ({:.2}, {:.2}); \
                         their other tracks: {}",
                        person_party.get(&person),
                        a[0],
                        a[1],
                        b[0],
                        b[1],
                        others.join(", ")
                    ));
                }
                (None, None) => {}
                (Some(_), None) => {
                    q.linked += 1;
                    q.linked_ghost += 1;
                    q.rule(&rule, track).ghost += 1;
                }
                (Some(visit), Some(person)) => {
                    q.linked += 1;
                    let right = visit_party.get(*visit).is_some_and(|p| person_party.get(&person) == Some(p));
                    if right {
                        q.linked_right += 1;
                        q.rule(&rule, track).right += 1;
                    } else {
                        q.linked_wrong += 1;
                        q.rule(&rule, track).wrong += 1;
                        let (t, at) = votes.first.unwrap_or((0.0, [0.0, 0.0]));
                        q.wrong.push(format!(
                            "{visit} (party {:?}) <- {track} by {:?} following person {person} (party {:?}, {:.0} %), first at t={t:.1} ({:.2}, {:.2})",
                            visit_party.get(*visit),
                            rule.get(track),
                            person_party.get(&person),
                            100.0 * share,
                            at[0],
                            at[1]
                        ));
                    }
                }
            }
        }
        q
    }
}

impl LinkingQuality {
    fn rule(&mut self, rules: &BTreeMap<&TrackId, LinkedBy>, track: &TrackId) -> &mut RuleLinks {
        let name = rules.get(track).map_or("unknown".to_owned(), |r| format!("{r:?}").to_lowercase());
        self.by_rule.entry(name).or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::tracker::Fate;

    fn outcome(track: Option<&str>) -> ObservationOutcome {
        ObservationOutcome { camera: "c1".into(), floor: None, track: track.map(TrackId::from), fate: Fate::Assigned }
    }

    #[test]
    fn links_are_judged_by_the_person_a_track_followed_most() {
        let mut s = LinkingScorer::default();
        for _ in 0..19 {
            s.step(0.0, &[Some(1), Some(2), None], &[outcome(Some("a")), outcome(Some("b")), outcome(Some("g"))]);
        }
        // One detection of person 2 went to track a: still a's majority is person 1.
        s.step(0.0, &[Some(2), Some(3)], &[outcome(Some("a")), outcome(Some("c"))]);
        let members = vec![
            (
                VisitId::from("v1"),
                0.0,
                vec![(TrackId::from("a"), LinkedBy::Gate), (TrackId::from("g"), LinkedBy::Split)],
            ),
            (VisitId::from("v2"), 0.0, vec![(TrackId::from("b"), LinkedBy::Rejoin)]),
        ];
        let visit_party = BTreeMap::from([(VisitId::from("v1"), 10), (VisitId::from("v2"), 10)]);
        let person_party = BTreeMap::from([(1, 10), (2, 11), (3, 12)]);
        let q = s.finish(&members, &visit_party, &person_party);
        assert_eq!((q.tracks, q.linked, q.linked_right, q.linked_wrong, q.linked_ghost), (4, 3, 1, 1, 1));
        assert_eq!((q.unlinked_people_tracks, q.mixed_tracks), (1, 0));
        assert_eq!(q.wrong.len(), 1);
        assert_eq!(q.by_rule["gate"], RuleLinks { right: 1, wrong: 0, ghost: 0 });
        assert_eq!(q.by_rule["rejoin"], RuleLinks { right: 0, wrong: 1, ghost: 0 });
        assert_eq!(q.by_rule["split"], RuleLinks { right: 0, wrong: 0, ghost: 1 });
    }
}
