//! The doubts a decided event leaves: which visits go to staff for it
//! (contested, a split link's rival, a degraded plate, a weak
//! attribution), with the reason kept for the review case.

use super::Fusion;
use crate::ids::{TrackId, VisitId};
use crate::shelf::pipeline::ShelfEvent;

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
}
