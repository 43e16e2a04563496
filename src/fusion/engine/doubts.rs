//! The doubts a decided event leaves: which visits go to staff for it
//! (contested, a split link's rival, a degraded plate, a weak
//! attribution, an actor that no longer looks like who came in for its
//! visit), with the reason kept for the review case.

use super::Fusion;
use crate::fusion::visits::LinkedBy;
use crate::ids::{TrackId, VisitId};
use crate::shelf::pipeline::ShelfEvent;

/// The track now wearing a shopper's clothes must have been seen this
/// recently before the event (s).
const WEARER_SEEN_WITHIN_S: f64 = 2.0;

impl Fusion {
    /// Flags the visits an event leaves in doubt: when it is unsure, every
    /// other plausible visit (contested); the rival of a track that split
    /// off beside another visit's member; its own visit for a degraded
    /// plate or a weak attribution.
    pub(super) fn flag_doubts(
        &mut self,
        e: &ShelfEvent,
        visit: &VisitId,
        track: &TrackId,
        p_visit: f64,
        others: &[(VisitId, f64)],
    ) {
        if p_visit < self.params.contest_below_p {
            // Any other plausible visit may be the one who took it: their
            // receipts are as uncertain, so staff see them all.
            for (other, p) in
                others.iter().filter(|(v, p)| *p >= self.params.contested_p && !self.handed_over.contains_key(v))
            {
                let note = format!(
                    "contested_event: {}.{} at {:.1} (p {:.2}, went to another visit)",
                    e.gondola, e.shelf, e.t, p
                );
                self.flags.entry(other.clone()).or_default().push(note);
            }
        }
        // The track split off beside another visit's member: if the tracker
        // swapped the two, this item is that visit's, and its receipt as
        // doubtful as this one's.
        if let Some(rival) = self.book.rival_of(track).filter(|r| !self.handed_over.contains_key(*r)).cloned() {
            let note = format!("uncertain_link: {track}, which split off beside a member of this visit, took an item");
            let rival_flags = self.flags.entry(rival).or_default();
            if !rival_flags.contains(&note) {
                rival_flags.push(note);
            }
        }
        let flags = self.flags.entry(visit.clone()).or_default();
        if e.degraded {
            flags.push(format!("degraded_plate: {}.{}", e.gondola, e.shelf));
        }
        if p_visit < self.params.min_attribution_p {
            flags.push(format!("unattributed_event: {}.{} at {:.1} (p {:.2})", e.gondola, e.shelf, e.t, p_visit));
        }
    }

    /// How far `track`'s look is from the settled look of the shopper who
    /// came in for `visit` alone (None for a party: a group walking in
    /// together is often one track at first, whose look is a blend), and
    /// the nearest other visit still open to a flag, by its gate members'
    /// settled looks, with its distance (None without embeddings).
    pub(super) fn look_of(&self, visit: &VisitId, track: &TrackId) -> (Option<f64>, Option<(VisitId, f64)>) {
        let own = self
            .book
            .visits
            .iter()
            .find(|v| v.id == *visit && v.party_size == 1)
            .and_then(|v| self.looks.distance_to(track, v.came_in()));
        let other = self
            .book
            .visits
            .iter()
            .filter(|v| v.id != *visit && !self.handed_over.contains_key(&v.id))
            .filter_map(|v| Some((v.id.clone(), self.looks.distance_to(track, v.came_in())?)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        (own, other)
    }

    /// An actor that looks unlike the shopper who came in for its visit
    /// alone, or just like the shopper of another visit, may be someone
    /// else the tracker put on its track: the visit goes to staff, and so
    /// does the visit whose shopper it looks more like (the item may be
    /// theirs).
    pub(super) fn flag_changed_look(
        &mut self,
        e: &ShelfEvent,
        visit: &VisitId,
        track: &TrackId,
        own: Option<f64>,
        other: Option<&(VisitId, f64)>,
    ) {
        let looks = &self.params.looks;
        let changed = own.filter(|d| *d > looks.changed_above);
        let like_other = other.filter(|(_, d)| *d < looks.same_below);
        let (why, matched) = match (changed, like_other) {
            (Some(own), _) => (
                format!("looking unlike the shopper who came in for this visit ({own:.2})"),
                other.filter(|(_, d)| *d < own),
            ),
            (None, Some((_, d))) => (format!("looking like the shopper of another visit ({d:.2})"), like_other),
            (None, None) => return,
        };
        let where_when = format!("{}.{} at {:.1}", e.gondola, e.shelf, e.t);
        push_once(
            self.flags.entry(visit.clone()).or_default(),
            format!("look_changed: {track} took an item on {where_when} {why}"),
        );
        if let Some((other, d)) = matched {
            let note = format!(
                "look_matches: {track} of another visit took an item on {where_when} looking like this visit's shopper ({d:.2})"
            );
            push_once(self.flags.entry(other.clone()).or_default(), note);
        }
    }

    /// The visit an actor belongs to by the looks, when that is not the
    /// visit its track is linked to, with the track whose look says so:
    /// - the actor itself looks just like another visit's shopper
    ///   (`same_below`) and, where its own visit came in as one shopper,
    ///   unlike that one (`changed_above`): over seeds 1 to 12 of the
    ///   crowded and adversarial runs, every one of the 24 such events
    ///   matched to a true action was that other visit's;
    /// - or the actor looks unlike the lone shopper its visit came in with,
    ///   and like no visit's shopper, while another visit's track now wears
    ///   that shopper's clothes: the tracker swapped the two, and the actor
    ///   is that other visit's.
    pub(super) fn swapped_to(
        &self,
        t: f64,
        (visit, track): (&VisitId, &TrackId),
        own: Option<f64>,
        other: Option<&(VisitId, f64)>,
    ) -> Option<(VisitId, TrackId)> {
        let looks = &self.params.looks;
        let unlike_own = own.is_none_or(|d| d > looks.changed_above);
        if let Some((v, _)) = other.filter(|(_, d)| *d < looks.same_below && unlike_own) {
            return Some((v.clone(), track.clone()));
        }
        if !own.is_some_and(|d| d > looks.changed_above) {
            return None;
        }
        let came_in = self.book.visits.iter().find(|v| v.id == *visit)?.came_in();
        let wearer = self.looks.wearing(came_in, track, t - WEARER_SEEN_WITHIN_S, looks.same_below)?;
        let theirs = self.book.visit_of(wearer).map(|v| v.id.clone()).filter(|v| v != visit)?;
        (!self.handed_over.contains_key(&theirs)).then(|| (theirs, wearer.clone()))
    }

    /// `visit` gets an item because its `wearer` now wears the clothes of
    /// the shopper that `track`'s visit came in with (`swapped_to`): its
    /// receipt is as doubtful as the other's, so staff see it too.
    pub(super) fn flag_swap_partner(&mut self, e: &ShelfEvent, visit: &VisitId, track: &TrackId, wearer: &TrackId) {
        let note = format!(
            "look_matches: {track} of another visit took an item on {}.{} at {:.1} while {wearer} of this visit \
             wore the clothes that visit's shopper came in with",
            e.gondola, e.shelf, e.t
        );
        push_once(self.flags.entry(visit.clone()).or_default(), note);
    }

    /// Whether the looks settle a doubtful link (`VisitBook::uncertain_links`):
    /// a track that rejoined looks just like a member of its visit (the one
    /// it continues), or one that split off beside another visit's lone
    /// shopper looks nothing like that shopper (the tracker did not swap
    /// the two).
    pub(super) fn look_confirms_link(&self, visit: &VisitId, track: &TrackId) -> bool {
        let looks = &self.params.looks;
        let Some(v) = self.book.visits.iter().find(|v| v.id == *visit) else { return false };
        let Some(i) = v.members.iter().position(|m| m == track) else { return false };
        match (v.linked_by[i], &v.rival[i]) {
            (LinkedBy::Rejoin, _) => {
                let others = v.members.iter().filter(|m| *m != track);
                self.looks.distance_to(track, others).is_some_and(|d| d < looks.same_below)
            }
            (LinkedBy::Split, Some(rival)) => self
                .book
                .visits
                .iter()
                .find(|w| w.id == rival.visit && w.party_size == 1)
                .and_then(|w| self.looks.distance_to(track, w.came_in()))
                .is_some_and(|d| d > looks.changed_above),
            _ => false,
        }
    }
}

/// Adds `note` unless a flag of its code (before the colon) is there already.
fn push_once(flags: &mut Vec<String>, note: String) {
    let code = note.split(':').next().unwrap_or_default();
    if !flags.iter().any(|f| f.split(':').next() == Some(code)) {
        flags.push(note);
    }
}
