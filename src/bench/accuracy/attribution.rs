//! How right fusion's shopper attribution was, event by event, by the
//! simulator's truth: each decided shelf event is matched to the true hand
//! action on the same shelf nearest in time. The calibration table says,
//! for each band of the decided visit's probability, how often that visit
//! was really the one: the evidence the attribution model and the review
//! thresholds are fitted on.

use crate::fusion::EventDecision;
use crate::ids::{TrackId, VisitId};
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
    /// Per matched event with hands seen: the true actor's nearest hand (m)
    /// and when (s from the event's start), and the nearest other track's;
    /// what the attribution constants are fitted on.
    pub hand_evidence: Vec<HandEvidence>,
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

pub fn score(
    decisions: &[EventDecision],
    actions: &[Action],
    visit_party: &BTreeMap<VisitId, u32>,
    track_people: &BTreeMap<TrackId, u32>,
) -> AttributionQuality {
    let mut q = AttributionQuality {
        calibration: BANDS
            .windows(2)
            .map(|w| CalibrationBand { p_from: w[0], p_to: w[1].min(1.0), ..CalibrationBand::default() })
            .collect(),
        ..AttributionQuality::default()
    };
    // Nearest pairs first, each action and decision used once.
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (i, d) in decisions.iter().enumerate() {
        for (j, a) in actions.iter().enumerate() {
            let plate = a.plates.first().map(|p| p.0);
            let dt = (a.t - d.t).abs();
            if plate.is_some_and(|p| p.gondola == d.gondola && p.shelf == d.shelf) && dt <= MATCH_S {
                pairs.push((dt, i, j));
            }
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let (mut decision_used, mut action_used) = (vec![false; decisions.len()], vec![false; actions.len()]);
    for (_, i, j) in pairs {
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
    q.unmatched_decisions = decision_used.iter().filter(|u| !**u).count();
    q.missed_actions = action_used.iter().filter(|u| !**u).count();
    q
}
