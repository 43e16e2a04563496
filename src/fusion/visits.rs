//! Which anonymous tracks belong to which visit. A gate scan opens a visit
//! for the host and the number of guests on the token; the next tracks
//! that appear at the entrance join it, host first. A track that appears in
//! the middle of the store (the tracker lost someone and started again)
//! rejoins the visit whose member vanished nearby just before. A member is
//! out when their track enters the exit zone; the visit closes when every
//! member is out or lost and at least one left through the exit.

use crate::ids::{TrackId, VisitId};
use crate::layout::{StoreGeometry, ZoneKind};
use std::collections::BTreeMap;

/// A member seen this recently (s) is beside a new track, not vanished.
const MEMBER_IN_VIEW_S: f64 = 0.5;

#[derive(Clone, Debug, PartialEq)]
pub struct LinkParams {
    /// A track first seen at the entrance this long after a scan (s) can still join its visit...
    pub join_window_s: f64,
    /// ... and one first seen up to this long before it (walking up to the gate).
    pub join_early_s: f64,
    /// A member unseen this long is lost (s).
    pub lost_after_s: f64,
    /// A new track this close (m, plus walking) to where a member vanished rejoins.
    pub rejoin_distance_m: f64,
    pub rejoin_window_s: f64,
    /// A new track this close to a member of a party not yet fully tracked joins it (m).
    pub split_distance_m: f64,
    /// ... and, if another visit's member stood this close to it then (m),
    /// the link is doubtful: people this close can be swapped by the
    /// tracker, and the newcomer be theirs.
    pub swap_distance_m: f64,
    /// A track first seen this close to the entry zone (m) came in through
    /// the gate: someone walking in may first be detected a step past it.
    pub entry_margin_m: f64,
}

impl Default for LinkParams {
    fn default() -> Self {
        Self {
            join_window_s: 15.0,
            join_early_s: 10.0,
            lost_after_s: 4.0,
            rejoin_distance_m: 1.2,
            rejoin_window_s: 8.0,
            split_distance_m: 1.0,
            swap_distance_m: 0.7,
            entry_margin_m: 0.5,
        }
    }
}

/// How a track came to a visit: the evidence behind the link, from the
/// strongest (walked in through the gate by the scan) to the weakest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkedBy {
    /// First seen at the entrance, nearest in time to the visit's scan.
    Gate,
    /// Appeared where a member had just vanished (the tracker lost them).
    Rejoin,
    /// Appeared beside a member of a party with fewer tracks than people.
    Split,
}

/// A visit, its scan time and its tracks with how each was linked (diagnostics).
pub type VisitLinks = (VisitId, f64, Vec<(TrackId, LinkedBy)>);

#[derive(Clone, Debug, PartialEq)]
pub struct OpenVisit {
    pub id: VisitId,
    pub scan_t: f64,
    /// Host plus guests.
    pub party_size: usize,
    pub members: Vec<TrackId>,
    /// How and when each member was linked (same order as `members`).
    pub linked_by: Vec<LinkedBy>,
    pub linked_at: Vec<f64>,
    /// For a member that split off: another visit whose member was beside
    /// it at that moment (the tracker may have swapped the two, and the
    /// newcomer be theirs).
    pub rival: Vec<Option<Rival>>,
    pub exited: Vec<TrackId>,
    pub closed_at: Option<f64>,
}

impl OpenVisit {
    /// The members who came in through the gate (not split off or rejoined later).
    pub fn came_in(&self) -> impl Iterator<Item = &TrackId> {
        self.members.iter().zip(&self.linked_by).filter(|(_, by)| **by == LinkedBy::Gate).map(|(m, _)| m)
    }
}

/// Another visit's member beside a track when it split off.
#[derive(Clone, Debug, PartialEq)]
pub struct Rival {
    pub visit: VisitId,
    /// From the newcomer to that member, and to the member of the visit it joined (m).
    pub distance_m: f64,
    pub own_distance_m: f64,
}

/// Where a track was last seen.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Seen {
    t: f64,
    x: f64,
    y: f64,
    first_t: f64,
    /// First seen in the entry zone (came in through the gate).
    entered: bool,
}

#[derive(Clone, Debug, Default)]
pub struct VisitBook {
    pub params: LinkParams,
    pub visits: Vec<OpenVisit>,
    pub owner: BTreeMap<TrackId, usize>,
    seen: BTreeMap<TrackId, Seen>,
    /// Tracks that could not be linked to any visit (never charged).
    pub orphans: BTreeMap<TrackId, f64>,
}

impl VisitBook {
    pub fn new(params: LinkParams) -> Self {
        Self { params, ..Self::default() }
    }

    pub fn scan(&mut self, t: f64, id: VisitId, guests: u8) {
        self.visits.push(OpenVisit {
            id,
            scan_t: t,
            party_size: 1 + usize::from(guests),
            members: Vec::new(),
            linked_by: Vec::new(),
            linked_at: Vec::new(),
            rival: Vec::new(),
            exited: Vec::new(),
            closed_at: None,
        });
    }

    pub fn visit_of(&self, track: &TrackId) -> Option<&OpenVisit> {
        self.owner.get(track).map(|&i| &self.visits[i])
    }

    /// One tracker step; returns the visits that closed at it.
    pub fn step(&mut self, geometry: &StoreGeometry, t: f64, tracks: &[(TrackId, f64, f64)]) -> Vec<VisitId> {
        for (id, x, y) in tracks {
            let margin = self.params.entry_margin_m;
            let (first_t, entered) = self
                .seen
                .get(id)
                .map_or_else(|| (t, near_zone(geometry, ZoneKind::Entry, *x, *y, margin)), |s| (s.first_t, s.entered));
            self.seen.insert(id.clone(), Seen { t, x: *x, y: *y, first_t, entered });
            if !self.owner.contains_key(id) && !self.orphans.contains_key(id) && !self.link(geometry, id, t, *x, *y) {
                // Waiting at the gate for a scan, or reborn without a lost member nearby yet.
                let waiting = in_zone(geometry, ZoneKind::Entry, *x, *y);
                if !waiting && t - first_t > self.params.rejoin_window_s {
                    self.orphans.insert(id.clone(), t);
                }
            }
            if let Some(&v) = self.owner.get(id)
                && in_zone(geometry, ZoneKind::Exit, *x, *y)
                && !self.visits[v].exited.contains(id)
            {
                self.visits[v].exited.push(id.clone());
            }
        }
        let mut closed = Vec::new();
        for v in &mut self.visits {
            if v.closed_at.is_some() || v.exited.is_empty() {
                continue;
            }
            let all_out = v
                .members
                .iter()
                .all(|m| v.exited.contains(m) || self.seen.get(m).is_none_or(|s| t - s.t > self.params.lost_after_s));
            // Wait for the whole party to have passed the gate before closing.
            let party_in = v.members.len() >= v.party_size || t - v.scan_t > self.params.join_window_s;
            if all_out && party_in {
                v.closed_at = Some(t);
                closed.push(v.id.clone());
            }
        }
        closed
    }

    /// Joins the track to a visit if one fits; false if none does yet.
    fn link(&mut self, geometry: &StoreGeometry, id: &TrackId, t: f64, x: f64, y: f64) -> bool {
        let p = &self.params;
        let (first_t, entered) = self.seen.get(id).map_or((t, false), |s| (s.first_t, s.entered));
        if entered {
            // The party member whose scan is nearest in time to the track's
            // first sighting at the gate. A scan after the sighting is final
            // (later ones are further); one before it may still lose to a
            // scan to come, so a track still at the entrance waits until
            // that can no longer happen. One that walked on takes it now.
            let waiting = in_zone(geometry, ZoneKind::Entry, x, y);
            let nearest = self
                .visits
                .iter()
                .enumerate()
                .filter(|(_, v)| {
                    v.closed_at.is_none()
                        && v.members.len() < v.party_size
                        && v.scan_t >= first_t - p.join_window_s
                        && v.scan_t <= first_t + p.join_early_s
                })
                .min_by(|a, b| (a.1.scan_t - first_t).abs().total_cmp(&(b.1.scan_t - first_t).abs()));
            match nearest {
                Some((v, visit)) if !waiting || visit.scan_t >= first_t || t - first_t >= first_t - visit.scan_t => {
                    self.join(v, id, LinkedBy::Gate, t);
                    return true;
                }
                Some(_) => return false,
                // No scan yet: someone at the entrance is more likely about
                // to scan than a lost member reborn there (every wrong
                // rejoin of the crowded and adversarial runs had taken such
                // a newcomer into the visit of a member lost near the gate).
                None if waiting && t - first_t < p.join_early_s => return false,
                None => {}
            }
        }
        // A track reborn mid-store: the member who vanished nearest, most recently.
        let mut best: Option<(usize, f64, LinkedBy)> = None;
        for (member, &v) in &self.owner {
            if self.visits[v].closed_at.is_some() || self.visits[v].exited.contains(member) {
                continue;
            }
            let Some(s) = self.seen.get(member) else { continue };
            let gap = t - s.t;
            if gap <= 0.0 || gap > p.rejoin_window_s {
                continue;
            }
            let d = (s.x - x).hypot(s.y - y);
            if d <= p.rejoin_distance_m + 1.5 * gap && best.is_none_or(|(_, bd, _)| d < bd) {
                best = Some((v, d, LinkedBy::Rejoin));
            }
        }
        // A party member walking close behind another was one track until
        // they parted: a new track beside a member of a visit still short
        // of its party size joins it.
        if best.is_none() {
            for (member, &v) in &self.owner {
                let visit = &self.visits[v];
                if visit.closed_at.is_some() || visit.members.len() >= visit.party_size {
                    continue;
                }
                let Some(s) = self.seen.get(member).filter(|s| t - s.t <= MEMBER_IN_VIEW_S) else { continue };
                let d = (s.x - x).hypot(s.y - y);
                if d <= p.split_distance_m && best.is_none_or(|(_, bd, _)| d < bd) {
                    best = Some((v, d, LinkedBy::Split));
                }
            }
        }
        match best {
            Some((v, d_own, how)) => {
                self.join(v, id, how, t);
                if how == LinkedBy::Split {
                    let rival = self.member_beside(v, t, x, y).map(|(visit, distance_m)| Rival {
                        visit,
                        distance_m,
                        own_distance_m: d_own,
                    });
                    if let Some(last) = self.visits[v].rival.last_mut() {
                        *last = rival;
                    }
                }
                true
            }
            None => false,
        }
    }

    /// Why the links of `visit` may be wrong, for staff: a member that
    /// rejoined mid-store (a reborn track may be someone else; half of them
    /// were in the simulator's crowds), or one that split off beside a
    /// member while another party that came in around then is still short
    /// of people, or while another visit's member stood beside it (the
    /// newcomer may be theirs: the tracker may have swapped the two).
    pub fn uncertain_links(&self, visit: &VisitId) -> Vec<(TrackId, String)> {
        let Some(v) = self.visits.iter().find(|v| &v.id == visit) else { return Vec::new() };
        let mut out = Vec::new();
        for (((track, how), at), rival) in v.members.iter().zip(&v.linked_by).zip(&v.linked_at).zip(&v.rival) {
            match how {
                LinkedBy::Gate => {}
                LinkedBy::Rejoin => out.push((track.clone(), format!("uncertain_link: {track} rejoined at {at:.1}"))),
                LinkedBy::Split if let Some(Rival { visit: w, distance_m: d, own_distance_m: d_own }) = rival => {
                    let why = format!(
                        "uncertain_link: {track} split off at {at:.1} beside a member of visit {w} ({d:.2} m; own {d_own:.2} m)"
                    );
                    out.push((track.clone(), why));
                }
                LinkedBy::Split => {
                    let short = self.visits.iter().find(|w| {
                        w.id != v.id
                            && w.members.len() < w.party_size
                            && (w.scan_t - at).abs() <= self.params.join_window_s
                    });
                    if let Some(w) = short {
                        let why = format!(
                            "uncertain_link: {track} split off at {at:.1} while visit {} was short of its party",
                            w.id
                        );
                        out.push((track.clone(), why));
                    }
                }
            }
        }
        out
    }

    /// Forgets what a long-running store no longer needs: visits closed
    /// before `before` with their tracks, tracks unseen since then, and
    /// orphans unseen since then. Open visits and their members stay.
    pub fn forget_before(&mut self, before: f64) {
        let old = |v: &OpenVisit| v.closed_at.is_some_and(|c| c < before);
        if !self.visits.iter().any(old) && !self.seen.values().any(|s| s.t < before) {
            return;
        }
        let mut new_index = vec![None; self.visits.len()];
        let mut kept = Vec::new();
        for (i, v) in std::mem::take(&mut self.visits).into_iter().enumerate() {
            if !old(&v) {
                new_index[i] = Some(kept.len());
                kept.push(v);
            }
        }
        self.visits = kept;
        self.owner.retain(|_, v| match new_index[*v] {
            Some(n) => {
                *v = n;
                true
            }
            None => false,
        });
        let owner = &self.owner;
        self.seen.retain(|id, s| s.t >= before || owner.contains_key(id));
        let seen = &self.seen;
        self.orphans.retain(|id, _| seen.contains_key(id));
    }

    /// Closes every visit still open at `t` (end of input); returns them.
    pub fn close_all(&mut self, t: f64) -> Vec<VisitId> {
        let mut out = Vec::new();
        for v in self.visits.iter_mut().filter(|v| v.closed_at.is_none()) {
            v.closed_at = Some(t);
            out.push(v.id.clone());
        }
        out
    }

    /// The nearest open visit other than `v` with a member in view within
    /// the swap distance of (x, y), and how far.
    fn member_beside(&self, v: usize, t: f64, x: f64, y: f64) -> Option<(VisitId, f64)> {
        self.owner
            .iter()
            .filter(|(_, w)| **w != v && self.visits[**w].closed_at.is_none())
            .filter_map(|(member, &w)| {
                let s = self.seen.get(member).filter(|s| t - s.t <= MEMBER_IN_VIEW_S)?;
                let d = (s.x - x).hypot(s.y - y);
                (d <= self.params.swap_distance_m).then_some((w, d))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(w, d)| (self.visits[w].id.clone(), d))
    }

    /// The other visit beside `track` when it split off (see [`OpenVisit::rival`]).
    pub fn rival_of(&self, track: &TrackId) -> Option<&VisitId> {
        let v = self.visit_of(track)?;
        let i = v.members.iter().position(|m| m == track)?;
        v.rival[i].as_ref().map(|r| &r.visit)
    }

    fn join(&mut self, v: usize, id: &TrackId, how: LinkedBy, t: f64) {
        self.visits[v].members.push(id.clone());
        self.visits[v].linked_by.push(how);
        self.visits[v].linked_at.push(t);
        self.visits[v].rival.push(None);
        self.owner.insert(id.clone(), v);
    }
}

fn in_zone(geometry: &StoreGeometry, kind: ZoneKind, x: f64, y: f64) -> bool {
    geometry.zones_at(x, y).any(|z| z.kind == kind)
}

fn near_zone(geometry: &StoreGeometry, kind: ZoneKind, x: f64, y: f64, margin: f64) -> bool {
    geometry.zones.iter().any(|z| z.kind == kind && z.distance(x, y) <= margin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::demo_layout;

    fn tid(s: &str) -> TrackId {
        TrackId::from(s)
    }

    #[test]
    fn a_party_joins_at_the_gate_and_closes_when_everyone_is_out() {
        let geo = demo_layout::geometry();
        let mut book = VisitBook::new(LinkParams::default());
        book.scan(10.0, VisitId::from("v1"), 1);
        book.step(&geo, 10.5, &[(tid("a"), 0.6, 0.6)]);
        book.step(&geo, 11.5, &[(tid("a"), 0.9, 0.8), (tid("b"), 0.5, 0.5)]);
        assert_eq!(
            book.visits[0].members,
            vec![tid("a")],
            "b, seen 1.5 s after the scan, waits as long for a nearer one"
        );
        book.step(&geo, 13.0, &[(tid("a"), 1.5, 1.8), (tid("b"), 0.6, 0.6)]);
        assert_eq!(book.visits[0].members, vec![tid("a"), tid("b")]);
        assert!(book.step(&geo, 60.0, &[(tid("a"), 8.5, 0.5), (tid("b"), 6.0, 3.0)]).is_empty(), "b still shopping");
        let closed = book.step(&geo, 70.0, &[(tid("a"), 8.6, 0.5), (tid("b"), 8.4, 0.6)]);
        assert_eq!(closed, vec![VisitId::from("v1")]);
    }

    #[test]
    fn a_guest_first_seen_a_step_past_the_entry_zone_still_came_in_through_the_gate() {
        // The demo store's entry zone ends at x = 1.3 m. The host is seen in
        // it; the guest is first detected 3 cm past its edge, away from the
        // host, and is linked by the gate all the same.
        let geo = demo_layout::geometry();
        let mut book = VisitBook::new(LinkParams::default());
        book.scan(10.0, VisitId::from("v1"), 1);
        book.step(&geo, 10.5, &[(tid("host"), 0.6, 0.6)]);
        book.step(&geo, 11.0, &[(tid("host"), 3.0, 2.0), (tid("guest"), 1.33, 0.74)]);
        assert_eq!(book.visits[0].members, vec![tid("host"), tid("guest")]);
        assert_eq!(book.visits[0].linked_by, vec![LinkedBy::Gate, LinkedBy::Gate]);
        // Two metres past it is somewhere in the store: not a newcomer.
        let mut book = VisitBook::new(LinkParams::default());
        book.scan(10.0, VisitId::from("v1"), 1);
        book.step(&geo, 10.5, &[(tid("host"), 0.6, 0.6)]);
        book.step(&geo, 11.0, &[(tid("host"), 6.0, 3.0), (tid("guest"), 3.3, 0.74)]);
        assert_eq!(book.visits[0].members, vec![tid("host")]);
    }

    #[test]
    fn a_track_goes_to_the_scan_nearest_its_first_sighting_not_the_oldest_open_slot() {
        let geo = demo_layout::geometry();
        let mut book = VisitBook::new(LinkParams::default());
        // v1 is a party of two whose guest was never tracked at the gate.
        book.step(&geo, 9.0, &[(tid("a"), 0.6, 0.6)]);
        book.scan(10.0, VisitId::from("v1"), 1);
        book.step(&geo, 10.1, &[(tid("a"), 0.7, 0.7)]);
        // The next party's host comes in 6 s later and scans 2 s after that.
        book.step(&geo, 16.0, &[(tid("a"), 3.0, 3.0), (tid("c"), 0.3, 0.3)]);
        book.scan(18.0, VisitId::from("v2"), 0);
        book.step(&geo, 18.1, &[(tid("a"), 3.5, 3.0), (tid("c"), 0.6, 0.7)]);
        assert_eq!(book.visit_of(&tid("a")).unwrap().id, VisitId::from("v1"));
        assert_eq!(book.visit_of(&tid("c")).unwrap().id, VisitId::from("v2"), "not v1's free guest slot");
        // v1's guest, hidden behind the host at the gate, parts from them mid-store.
        book.step(&geo, 20.0, &[(tid("a"), 4.0, 3.0), (tid("c"), 2.0, 2.5), (tid("g"), 4.5, 3.2)]);
        assert_eq!(book.visit_of(&tid("g")).unwrap().id, VisitId::from("v1"));
        assert_eq!(book.visits[0].linked_by, vec![LinkedBy::Gate, LinkedBy::Split]);
        assert!(book.uncertain_links(&VisitId::from("v1")).is_empty(), "every party is complete");
        // A party of two that came in around then has only one track: g may be theirs.
        book.scan(24.0, VisitId::from("v3"), 1);
        book.step(
            &geo,
            24.1,
            &[(tid("a"), 4.0, 3.0), (tid("c"), 2.0, 2.5), (tid("g"), 4.5, 3.2), (tid("h"), 0.6, 0.7)],
        );
        book.step(
            &geo,
            24.3,
            &[(tid("a"), 4.0, 3.0), (tid("c"), 2.0, 2.5), (tid("g"), 4.5, 3.2), (tid("h"), 0.8, 0.9)],
        );
        assert_eq!(book.visit_of(&tid("h")).unwrap().id, VisitId::from("v3"));
        let doubts = book.uncertain_links(&VisitId::from("v1"));
        assert_eq!(doubts.len(), 1);
        assert_eq!(doubts[0].0, tid("g"));
        assert!(doubts[0].1.starts_with("uncertain_link: g split off at 20.0"), "{doubts:?}");
    }

    #[test]
    fn a_newcomer_at_the_entrance_waits_for_their_scan_rather_than_rejoining_a_member_lost_there() {
        let geo = demo_layout::geometry();
        let mut book = VisitBook::new(LinkParams::default());
        book.scan(10.0, VisitId::from("v1"), 0);
        book.step(&geo, 10.1, &[(tid("a"), 0.6, 0.6)]);
        book.step(&geo, 20.0, &[(tid("a"), 1.4, 1.2)]);
        // a is lost by the tracker; 2 s later a new track appears at the
        // entrance, and its owner scans 3 s after that.
        book.step(&geo, 22.0, &[(tid("n"), 0.6, 0.5)]);
        assert!(book.visit_of(&tid("n")).is_none(), "waits for a scan");
        book.scan(25.0, VisitId::from("v2"), 0);
        book.step(&geo, 25.1, &[(tid("n"), 0.7, 0.6)]);
        assert_eq!(book.visit_of(&tid("n")).unwrap().id, VisitId::from("v2"));
        // A track reborn beside where a was lost, past the entrance, still rejoins.
        book.step(&geo, 26.0, &[(tid("n"), 1.5, 1.5), (tid("a2"), 2.0, 1.4)]);
        assert_eq!(book.visit_of(&tid("a2")).unwrap().id, VisitId::from("v1"));
    }

    #[test]
    fn a_long_running_book_forgets_closed_visits_and_keeps_the_open_ones_linked() {
        let geo = demo_layout::geometry();
        let mut book = VisitBook::new(LinkParams::default());
        book.scan(10.0, VisitId::from("early"), 0);
        book.step(&geo, 10.1, &[(tid("a"), 0.6, 0.6)]);
        book.scan(20.0, VisitId::from("late"), 0);
        book.step(&geo, 20.1, &[(tid("a"), 4.0, 3.0), (tid("b"), 0.6, 0.6)]);
        // a walks out; b stays in the store.
        book.step(&geo, 30.0, &[(tid("a"), 8.5, 0.5), (tid("b"), 4.0, 3.0)]);
        assert_eq!(book.visits[0].closed_at, Some(30.0));
        book.step(&geo, 100.0, &[(tid("b"), 4.2, 3.0), (tid("x"), 8.0, 6.0)]);
        book.step(&geo, 120.0, &[(tid("b"), 4.2, 3.0), (tid("x"), 8.0, 6.0)]);
        assert!(book.orphans.contains_key(&tid("x")));
        book.forget_before(110.0);
        assert_eq!(book.visits.len(), 1);
        assert_eq!(book.visit_of(&tid("b")).unwrap().id, VisitId::from("late"), "indices follow the kept visits");
        assert!(book.visit_of(&tid("a")).is_none());
        assert!(book.orphans.contains_key(&tid("x")), "an orphan still in view stays one");
        book.forget_before(200.0);
        assert_eq!(book.visits.len(), 1, "an open visit is never forgotten");
        assert!(book.orphans.is_empty());
    }

    #[test]
    fn a_split_beside_another_visits_member_is_doubtful_for_both() {
        let geo = demo_layout::geometry();
        // v1: a party of two, one track; v2: one shopper.
        let two_visits = || {
            let mut book = VisitBook::new(LinkParams::default());
            book.scan(10.0, VisitId::from("v1"), 1);
            book.step(&geo, 10.1, &[(tid("a"), 0.6, 0.6)]);
            book.scan(12.0, VisitId::from("v2"), 0);
            book.step(&geo, 12.1, &[(tid("a"), 2.0, 2.0), (tid("b"), 0.6, 0.6)]);
            book
        };
        // Far from anyone else, a newcomer beside v1's host is v1's guest.
        let mut book = two_visits();
        book.step(&geo, 30.0, &[(tid("a"), 4.0, 3.0), (tid("b"), 8.0, 6.0), (tid("g"), 4.5, 3.2)]);
        assert_eq!(book.visit_of(&tid("g")).unwrap().id, VisitId::from("v1"));
        assert!(book.uncertain_links(&VisitId::from("v1")).is_empty());
        assert!(book.rival_of(&tid("g")).is_none());
        // The same, with v2's shopper 0.5 m away: the tracker may have
        // swapped them, and the newcomer be v2's.
        let mut book = two_visits();
        book.step(&geo, 30.0, &[(tid("a"), 4.0, 3.0), (tid("b"), 4.9, 3.5), (tid("g"), 4.5, 3.2)]);
        assert_eq!(book.visit_of(&tid("g")).unwrap().id, VisitId::from("v1"));
        assert_eq!(book.rival_of(&tid("g")), Some(&VisitId::from("v2")));
        let doubts = book.uncertain_links(&VisitId::from("v1"));
        assert_eq!(doubts.len(), 1, "{doubts:?}");
        assert!(
            doubts[0].1.starts_with("uncertain_link: g split off at 30.0 beside a member of visit v2"),
            "{doubts:?}"
        );
    }

    #[test]
    fn a_track_reborn_mid_store_rejoins_and_a_stranger_stays_an_orphan() {
        let geo = demo_layout::geometry();
        let mut book = VisitBook::new(LinkParams::default());
        book.scan(10.0, VisitId::from("v1"), 0);
        book.step(&geo, 10.5, &[(tid("a"), 0.6, 0.6)]);
        book.step(&geo, 30.0, &[(tid("a"), 4.0, 3.0)]);
        book.step(&geo, 31.0, &[(tid("a2"), 4.3, 3.1), (tid("x"), 8.0, 6.0)]);
        assert_eq!(book.visit_of(&tid("a2")).unwrap().id, VisitId::from("v1"));
        let doubts = book.uncertain_links(&VisitId::from("v1"));
        assert_eq!(doubts, vec![(tid("a2"), "uncertain_link: a2 rejoined at 31.0".to_owned())]);
        book.step(&geo, 45.0, &[(tid("a2"), 4.3, 3.1), (tid("x"), 8.0, 6.0)]);
        assert!(book.visit_of(&tid("x")).is_none());
        assert!(book.orphans.contains_key(&tid("x")));
    }
}
