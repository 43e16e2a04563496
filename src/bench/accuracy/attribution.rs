//! How right fusion's shopper attribution was, event by event, by the
//! simulator's truth: each decided shelf event is matched to the true hand
//! action on the same shelf nearest in time. The calibration table says,
//! for each band of the decided visit's probability, how often that visit
//! was really the one: the evidence the attribution model and the review
//! thresholds are fitted on.

use crate::fusion::EventDecision;
use crate::fusion::attribute::TrackSeries;
use crate::ids::{PlateId, TrackId, VisitId};
use crate::sim::Action;
use serde::Serialize;
use std::collections::BTreeMap;

/// A decision and an action this far apart (s) are not the same event.
pub const MATCH_S: f64 = 2.0;

/// One band of the decided visit's probability.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CalibrationBand {
    pub p_from: f64,
    pub p_to: f64,
    pub events: usize,
    /// The decided visit was the true one.
    pub right: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AttributionQuality {
    /// Decisions matched to a true action.
    pub matched: usize,
    /// Matched decisions whose visit was the true party's.
    pub right: usize,
    /// Matched decisions given to another visit (or to nobody).
    pub wrong: usize,
    /// Decisions with no true action near (sensor artefacts).
    pub unmatched_decisions: usize,
    /// True actions with no decision (missed shelf events).
    pub missed_actions: usize,
    pub calibration: Vec<CalibrationBand>,
    /// One line per wrong decision.
    pub wrong_list: Vec<String>,
    /// Per matched event: the true actor's hand nearest the plates (m) and
    /// when (s from the event's start), and the best other track's (each
    /// `None` when that track was not among the event's top three or its
    /// hands were not seen); what the attribution constants are fitted on.
    pub hand_evidence: Vec<HandEvidence>,
    /// `hand_evidence` summed up.
    pub hand_fit: HandFit,
    /// Per matched event, every track's evidence and whose it was (only
    /// with `--evidence`): what the attribution model is fitted on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fit_cases: Vec<FitCase>,
}

/// One matched shelf event with all the evidence fusion had.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FitCase {
    pub t: f64,
    pub plates: String,
    pub delta_g: f64,
    /// The party that really touched the shelf.
    pub truth_party: u32,
    /// What fusion decided, for comparison.
    pub p_visit: f64,
    pub p_product: f64,
    pub right: bool,
    pub candidates: Vec<FitCandidate>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FitCandidate {
    /// The party of the visit the track was linked to (none: unlinked).
    pub party: Option<u32>,
    /// The track followed the person who touched the shelf.
    pub actor: bool,
    #[serde(flatten)]
    pub series: TrackSeries,
    /// Per hand sample, whose detections the track held at that frame:
    /// 1 the actor's only, 0 someone else's only, 2 both, -1 unknown.
    pub who: Vec<i8>,
}

/// Per track and frame (ms), the true person of each detection the tracker
/// gave it (`None`: a false detection).
pub type FramePeople = BTreeMap<(TrackId, i64), Vec<Option<u32>>>;

/// Records one frame's detections by track, for [`FitCandidate::who`].
pub fn note_frame(
    frames: &mut FramePeople,
    t: f64,
    truths: &[Option<u32>],
    outcomes: &[crate::vision::tracker::ObservationOutcome],
) {
    for (truth, outcome) in truths.iter().zip(outcomes) {
        if let Some(track) = &outcome.track {
            frames.entry((track.clone(), frame_ms(t))).or_default().push(*truth);
        }
    }
}

fn frame_ms(t: f64) -> i64 {
    (t * 1000.0).round() as i64
}

/// What the simulator knows about visits and tracks.
pub struct Truth<'a> {
    /// The party each visit was opened for.
    pub visit_party: &'a BTreeMap<VisitId, u32>,
    /// The person each track followed (by majority of its detections).
    pub track_people: &'a BTreeMap<TrackId, u32>,
    /// The party of the visit each track was linked to.
    pub track_party: &'a BTreeMap<TrackId, u32>,
    /// Whose detections each track held, frame by frame (may be empty).
    pub frame_people: &'a FramePeople,
}

/// How far from the changed plates' reach volumes the true actor's hand
/// was, and the best other track's (m).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HandFit {
    pub actor_events: usize,
    /// Share of those with the actor's hand inside the volume.
    pub actor_inside: f64,
    pub actor_p50_m: f64,
    pub actor_p90_m: f64,
    pub actor_p95_m: f64,
    pub actor_p99_m: f64,
    pub actor_rms_m: f64,
    pub other_events: usize,
    pub other_p25_m: f64,
    pub other_p50_m: f64,
}

impl HandFit {
    pub fn of(evidence: &[HandEvidence]) -> Self {
        let mut actor: Vec<f64> = evidence.iter().filter_map(|e| e.actor_m).collect();
        let mut other: Vec<f64> = evidence.iter().filter_map(|e| e.other_m).collect();
        actor.sort_by(f64::total_cmp);
        other.sort_by(f64::total_cmp);
        let n = actor.len().max(1) as f64;
        Self {
            actor_events: actor.len(),
            actor_inside: actor.iter().filter(|d| **d < 1e-9).count() as f64 / n,
            actor_p50_m: percentile(&actor, 0.5),
            actor_p90_m: percentile(&actor, 0.9),
            actor_p95_m: percentile(&actor, 0.95),
            actor_p99_m: percentile(&actor, 0.99),
            actor_rms_m: (actor.iter().map(|d| d * d).sum::<f64>() / n).sqrt(),
            other_events: other.len(),
            other_p25_m: percentile(&other, 0.25),
            other_p50_m: percentile(&other, 0.5),
        }
    }
}

/// Nearest-rank percentile of sorted values (0 when empty).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HandEvidence {
    pub actor_m: Option<f64>,
    pub actor_dt_s: Option<f64>,
    pub other_m: Option<f64>,
    pub other_dt_s: Option<f64>,
}

/// Band edges of the calibration table.
const BANDS: [f64; 8] = [0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0 + 1e-9];

pub fn score(decisions: &[EventDecision], actions: &[Action], truth: &Truth) -> AttributionQuality {
    let (visit_party, track_people) = (truth.visit_party, truth.track_people);
    let mut q = AttributionQuality {
        calibration: BANDS
            .windows(2)
            .map(|w| CalibrationBand { p_from: w[0], p_to: w[1].min(1.0), ..CalibrationBand::default() })
            .collect(),
        ..AttributionQuality::default()
    };
    // Pairs on the same plates first (two hands on one shelf a moment
    // apart must not be crossed), then the nearest in time; each action and
    // decision used once.
    let mut pairs: Vec<(bool, f64, usize, usize)> = Vec::new();
    for (i, d) in decisions.iter().enumerate() {
        for (j, a) in actions.iter().enumerate() {
            let on_shelf = |p: &PlateId| p.gondola == d.gondola && p.shelf == d.shelf;
            let dt = (a.t - d.t).abs();
            if a.plates.first().is_some_and(|p| on_shelf(&p.0)) && dt <= MATCH_S {
                let same_plates = a.plates.iter().any(|(p, _)| on_shelf(p) && d.plates.contains(&p.plate));
                pairs.push((!same_plates, dt, i, j));
            }
        }
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)).then(a.3.cmp(&b.3)));
    let (mut decision_used, mut action_used) = (vec![false; decisions.len()], vec![false; actions.len()]);
    for (_, _, i, j) in pairs {
        if decision_used[i] || action_used[j] {
            continue;
        }
        (decision_used[i], action_used[j]) = (true, true);
        let (d, a) = (&decisions[i], &actions[j]);
        let decided_party = d.visit.as_ref().and_then(|v| visit_party.get(v));
        let right = decided_party == Some(&a.party);
        q.matched += 1;
        let actor = d.tracks.iter().find(|s| track_people.get(&s.track) == Some(&a.person));
        let other = d.tracks.iter().find(|s| track_people.get(&s.track) != Some(&a.person));
        q.hand_evidence.push(HandEvidence {
            actor_m: actor.and_then(|s| s.hand_distance_m),
            actor_dt_s: actor.and_then(|s| s.hand_dt_s),
            other_m: other.and_then(|s| s.hand_distance_m),
            other_dt_s: other.and_then(|s| s.hand_dt_s),
        });
        if !d.evidence.is_empty() {
            q.fit_cases.push(FitCase {
                t: d.t,
                plates: format!("{}.{}.{:?}", d.gondola, d.shelf, d.plates),
                delta_g: d.delta_g,
                truth_party: a.party,
                p_visit: d.p_visit,
                p_product: d.p_product,
                right,
                candidates: d
                    .evidence
                    .iter()
                    .map(|s| FitCandidate {
                        party: truth.track_party.get(&s.track).copied(),
                        actor: track_people.get(&s.track) == Some(&a.person),
                        who: s
                            .hands
                            .iter()
                            .map(|[dt, _]| match truth.frame_people.get(&(s.track.clone(), frame_ms(d.t + dt))) {
                                None => -1,
                                Some(people) => {
                                    let actor = people.iter().filter(|p| **p == Some(a.person)).count();
                                    if actor == people.len() {
                                        1
                                    } else if actor == 0 {
                                        0
                                    } else {
                                        2
                                    }
                                }
                            })
                            .collect(),
                        series: s.clone(),
                    })
                    .collect(),
            });
        }
        if right {
            q.right += 1;
        } else {
            q.wrong += 1;
            let second_party = d.second.as_ref().and_then(|v| visit_party.get(v));
            q.wrong_list.push(format!(
                "t={:.1} shelf {}.{} {:+.0} g: party {:?} (p {:.2}) over party {:?} (p {:.2}), truth party {} (person {}), hand {:?} m",
                d.t, d.gondola, d.shelf, d.delta_g, decided_party, d.p_visit, second_party, d.p_second, a.party, a.person,
                d.hand_distance_m.map(|h| (h * 100.0).round() / 100.0)
            ));
        }
        if let Some(k) = BANDS.windows(2).position(|w| d.p_visit >= w[0] && d.p_visit < w[1]) {
            q.calibration[k].events += 1;
            q.calibration[k].right += usize::from(right);
        }
    }
    q.hand_fit = HandFit::of(&q.hand_evidence);
    q.unmatched_decisions = decision_used.iter().filter(|u| !**u).count();
    q.missed_actions = action_used.iter().filter(|u| !**u).count();
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fusion::attribute::TrackScore;
    use crate::ids::Sku;
    use crate::sim::ActionKind;

    fn decision(t: f64, visit: &str, p: f64, tracks: &[(&str, f64)]) -> EventDecision {
        EventDecision {
            t,
            t_end: t + 0.5,
            gondola: 2,
            shelf: 1,
            plates: vec![3],
            delta_g: -100.0,
            visit: Some(VisitId::from(visit)),
            p_visit: p,
            p_second: 1.0 - p,
            second: None,
            hand_distance_m: None,
            sku: Some(Sku::from("DM-0001")),
            qty: 1,
            p_product: 1.0,
            shelf_ambiguous: false,
            hand_crops: 0,
            crop_ratio: 1.0,
            look_distance: None,
            look_other: None,
            by_look: None,
            evidence: Vec::new(),
            concurrent: None,
            lifts: None,
            split: None,
            tracks: tracks
                .iter()
                .map(|(id, d)| TrackScore {
                    track: TrackId::from(*id),
                    p: 0.5,
                    hand_distance_m: Some(*d),
                    hand_dt_s: Some(0.3),
                    body_distance_m: 0.5,
                })
                .collect(),
        }
    }

    fn action(t: f64, person: u32, party: u32) -> Action {
        Action {
            t,
            person,
            party,
            kind: ActionKind::Pick,
            sku: Sku::from("DM-0001"),
            qty: 1,
            plates: vec![(PlateId::new(2, 1, 3), -100.0)],
            tags: Vec::new(),
        }
    }

    #[test]
    fn two_hands_on_one_shelf_a_moment_apart_are_each_judged_against_their_own_plates() {
        let visits = BTreeMap::from([(VisitId::from("v1"), 1), (VisitId::from("v2"), 2)]);
        let people = BTreeMap::from([(TrackId::from("a"), 10), (TrackId::from("b"), 20)]);
        // Person 10 took from plate 3 at 100.0, person 20 from plate 9 at 100.1;
        // the shelf saw plate 9 move first.
        let mut on_9 = decision(100.05, "v2", 0.99, &[("b", 0.0)]);
        on_9.plates = vec![9];
        let on_3 = decision(100.12, "v1", 0.99, &[("a", 0.0)]);
        let mut by_20 = action(100.1, 20, 2);
        by_20.plates = vec![(PlateId::new(2, 1, 9), -100.0)];
        let q = score(
            &[on_9, on_3],
            &[action(100.0, 10, 1), by_20],
            &Truth {
                visit_party: &visits,
                track_people: &people,
                track_party: &BTreeMap::new(),
                frame_people: &BTreeMap::new(),
            },
        );
        assert_eq!((q.matched, q.right, q.wrong), (2, 2, 0), "{:?}", q.wrong_list);
    }

    #[test]
    fn each_event_is_judged_against_the_nearest_true_action_on_its_shelf() {
        let visits = BTreeMap::from([(VisitId::from("v1"), 1), (VisitId::from("v2"), 2)]);
        let people = BTreeMap::from([(TrackId::from("a"), 10), (TrackId::from("b"), 20)]);
        let decisions = vec![
            decision(100.0, "v1", 0.95, &[("a", 0.0), ("b", 0.3)]),
            // Went to v1, but person 20 (party 2) took it.
            decision(110.0, "v1", 0.55, &[("a", 0.05), ("b", 0.02)]),
            // Nothing happened there (a sensor artefact).
            decision(130.0, "v2", 0.99, &[]),
        ];
        let actions = vec![action(100.2, 10, 1), action(110.1, 20, 2), action(120.0, 10, 1)];
        let q = score(
            &decisions,
            &actions,
            &Truth {
                visit_party: &visits,
                track_people: &people,
                track_party: &BTreeMap::new(),
                frame_people: &BTreeMap::new(),
            },
        );
        assert_eq!((q.matched, q.right, q.wrong), (2, 1, 1));
        assert_eq!((q.unmatched_decisions, q.missed_actions), (1, 1));
        let band = |p: f64| q.calibration.iter().rev().find(|b| p >= b.p_from).unwrap();
        assert_eq!((band(0.95).events, band(0.95).right), (1, 1));
        assert_eq!((band(0.55).events, band(0.55).right), (1, 0));
        assert_eq!(q.wrong_list.len(), 1);
        let contested = q.hand_evidence.iter().find(|e| e.other_m == Some(0.05)).unwrap();
        assert_eq!(contested.actor_m, Some(0.02), "the actor is the track that followed person 20");
        assert_eq!((q.hand_fit.actor_events, q.hand_fit.actor_inside), (2, 0.5));
        assert_eq!((q.hand_fit.actor_p50_m, q.hand_fit.actor_p99_m), (0.0, 0.02));
    }
}
