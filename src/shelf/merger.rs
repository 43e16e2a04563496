//! [`ShelfMerger`] groups plate changes that belong to one physical event:
//! same shelf, plates linked by the planogram (one product spanning plates),
//! overlapping or close in time. Pure and synchronous, like the detector.

use super::detector::{DetectorParams, sanitized};
use super::{PlateChange, ShelfChange};
use crate::ids::PlateId;
use std::collections::BTreeMap;

/// One group of plate changes being collected.
#[derive(Clone, Debug)]
struct Group {
    root: PlateId,
    t_start: f64,
    t_end: f64,
    parts: Vec<PlateChange>,
}

/// Groups [`PlateChange`]s into [`ShelfChange`]s.
///
/// Two changes belong together when they are on the same gondola and shelf,
/// their plates are linked (transitively: a product spanning plates 4, 5, 6
/// links 4-5 and 5-6; a plate is linked to itself) and their intervals
/// overlap or are within `merge_window_s`. Neighbouring plates that are not
/// linked (different products) stay separate events. Links between
/// different shelves are ignored.
///
/// A group is emitted once no linked change can still join it: when the
/// clock (the latest `now` given to [`advance`](Self::advance), or a pushed
/// change's `t_end`) passes its last `t_end` by `merge_hold_s`, and no linked
/// plate that the caller reported mid-change ([`set_changing`](Self::set_changing),
/// optional but recommended: a heavy part can settle seconds after a light
/// one) left its stable state in time to join, or `merge_max_hold_s` has
/// passed. A group whose
/// parts cancel out (|Σ Δ| below `min_change_g`: an item moved between
/// plates of one product, or put back within the merge window) is dropped.
#[derive(Clone, Debug)]
pub struct ShelfMerger {
    root: BTreeMap<PlateId, PlateId>,
    merge_window_s: f64,
    merge_hold_s: f64,
    merge_max_hold_s: f64,
    min_change_g: f64,
    pending: Vec<Group>,
    /// Linked plates mid-change, and since when.
    changing: BTreeMap<PlateId, f64>,
}

impl ShelfMerger {
    pub fn new(links: impl IntoIterator<Item = (PlateId, PlateId)>, params: &DetectorParams) -> Self {
        let params = sanitized(params.clone());
        let mut parent: BTreeMap<PlateId, PlateId> = BTreeMap::new();
        fn find(parent: &BTreeMap<PlateId, PlateId>, mut p: PlateId) -> PlateId {
            while let Some(&q) = parent.get(&p).filter(|q| **q != p) {
                p = q;
            }
            p
        }
        for (a, b) in links {
            if (a.gondola, a.shelf) != (b.gondola, b.shelf) {
                continue;
            }
            let (ra, rb) = (find(&parent, a), find(&parent, b));
            parent.entry(a).or_insert(a);
            parent.entry(b).or_insert(b);
            // The smaller plate is the root: roots are deterministic.
            let (lo, hi) = if ra <= rb { (ra, rb) } else { (rb, ra) };
            parent.insert(hi, lo);
            parent.entry(lo).or_insert(lo);
        }
        let root = parent.keys().map(|&p| (p, find(&parent, p))).collect();
        Self {
            root,
            merge_window_s: params.merge_window_s,
            merge_hold_s: params.merge_hold_s,
            merge_max_hold_s: params.merge_max_hold_s,
            min_change_g: params.min_change_g,
            pending: Vec::new(),
            changing: BTreeMap::new(),
        }
    }

    fn root_of(&self, plate: PlateId) -> PlateId {
        self.root.get(&plate).copied().unwrap_or(plate)
    }

    /// Whether changes on `a` and `b` may merge (same shelf, linked or equal).
    pub fn linked(&self, a: PlateId, b: PlateId) -> bool {
        self.root_of(a) == self.root_of(b)
    }

    /// Groups still open.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Tells the merger that `plate` is mid-change since `since` (unix s,
    /// [`Phase::Changing`]), or no longer (None). Only linked plates matter;
    /// call it when a detector's phase changes.
    pub fn set_changing(&mut self, plate: PlateId, since: Option<f64>) {
        match since {
            Some(t) if t.is_finite() && self.root.contains_key(&plate) => {
                self.changing.insert(plate, t);
            }
            _ => {
                self.changing.remove(&plate);
            }
        }
    }

    /// Whether a linked plate mid-change may still add a part to `g`.
    fn awaited(&self, g: &Group) -> bool {
        let limit = g.t_end + self.merge_window_s;
        self.changing.iter().any(|(p, since)| *since <= limit && self.root_of(*p) == g.root)
    }

    /// Adds a change; returns the groups that the clock reaching its `t_end` closes.
    /// Changes with a non-finite field are ignored.
    pub fn push(&mut self, change: PlateChange) -> Vec<ShelfChange> {
        let now = change.t_end;
        let finite = [change.t_start, change.t_end, change.before_g, change.after_g, change.delta_g, change.confidence];
        if finite.iter().all(|v| v.is_finite()) {
            self.join(change);
        }
        self.advance(now)
    }

    fn join(&mut self, change: PlateChange) {
        let root = self.root_of(change.plate);
        let w = self.merge_window_s;
        let mut group = Group { root, t_start: change.t_start, t_end: change.t_end, parts: vec![change] };
        let mut i = 0;
        while i < self.pending.len() {
            let g = &self.pending[i];
            let near = g.root == root && g.t_start <= group.t_end + w && group.t_start <= g.t_end + w;
            if near {
                let g = self.pending.swap_remove(i);
                group.t_start = group.t_start.min(g.t_start);
                group.t_end = group.t_end.max(g.t_end);
                group.parts.extend(g.parts);
                // The grown group may now reach groups already passed over.
                i = 0;
            } else {
                i += 1;
            }
        }
        self.pending.push(group);
    }

    /// Emits the groups closed by the clock reaching `now` (unix s), ordered by `t_start` then plate.
    pub fn advance(&mut self, now: f64) -> Vec<ShelfChange> {
        let (closed, open): (Vec<Group>, Vec<Group>) = std::mem::take(&mut self.pending).into_iter().partition(|g| {
            now.is_finite()
                && g.t_end + self.merge_hold_s <= now
                && (g.t_end + self.merge_max_hold_s <= now || !self.awaited(g))
        });
        self.pending = open;
        self.finish(closed)
    }

    /// Emits every open group (end of stream).
    pub fn flush(&mut self) -> Vec<ShelfChange> {
        let all = std::mem::take(&mut self.pending);
        self.finish(all)
    }

    fn finish(&self, groups: Vec<Group>) -> Vec<ShelfChange> {
        let mut out: Vec<ShelfChange> = groups.into_iter().filter_map(|g| self.shelf_change(g)).collect();
        out.sort_by(|a, b| a.t_start.total_cmp(&b.t_start).then_with(|| a.plates.cmp(&b.plates)));
        out
    }

    /// One part per plate (a plate that changed twice in the group gets its
    /// changes combined); confidence = the |Δ|-weighted mean of the parts'
    /// confidences times |Σ Δ| / Σ |Δ| (parts pulling in opposite directions
    /// make the group less sure).
    fn shelf_change(&self, mut g: Group) -> Option<ShelfChange> {
        g.parts.sort_by(|a, b| a.plate.cmp(&b.plate).then(a.t_start.total_cmp(&b.t_start)));
        let mut parts: Vec<PlateChange> = Vec::with_capacity(g.parts.len());
        for p in g.parts {
            match parts.last_mut() {
                Some(last) if last.plate == p.plate => {
                    last.t_start = last.t_start.min(p.t_start);
                    last.t_end = last.t_end.max(p.t_end);
                    last.after_g = p.after_g;
                    last.delta_g += p.delta_g;
                    last.confidence = last.confidence.min(p.confidence);
                }
                _ => parts.push(p),
            }
        }
        let delta: f64 = parts.iter().map(|p| p.delta_g).sum();
        let total: f64 = parts.iter().map(|p| p.delta_g.abs()).sum();
        if delta.abs() < self.min_change_g || total <= 0.0 {
            return None;
        }
        let weighted = parts.iter().map(|p| p.delta_g.abs() * p.confidence).sum::<f64>() / total;
        Some(ShelfChange {
            gondola: g.root.gondola,
            shelf: g.root.shelf,
            plates: parts.iter().map(|p| p.plate.plate).collect(),
            t_start: g.t_start,
            t_end: g.t_end,
            delta_g: delta,
            confidence: (weighted * delta.abs() / total).clamp(0.0, 1.0),
            parts,
            degraded: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(plate: u16, t_start: f64, t_end: f64, delta_g: f64) -> PlateChange {
        PlateChange {
            plate: PlateId::new(3, 2, plate),
            t_start,
            t_end,
            before_g: 1000.0,
            after_g: 1000.0 + delta_g,
            delta_g,
            confidence: 0.9,
            trace: Vec::new(),
        }
    }

    fn links(pairs: &[(u16, u16)]) -> Vec<(PlateId, PlateId)> {
        pairs.iter().map(|&(a, b)| (PlateId::new(3, 2, a), PlateId::new(3, 2, b))).collect()
    }

    fn merge(links: Vec<(PlateId, PlateId)>, changes: Vec<PlateChange>) -> Vec<ShelfChange> {
        let mut m = ShelfMerger::new(links, &DetectorParams::default());
        let mut out: Vec<ShelfChange> = changes.into_iter().flat_map(|c| m.push(c)).collect();
        out.extend(m.flush());
        out
    }

    #[test]
    fn linked_neighbours_merge_and_unlinked_neighbours_stay_apart() {
        let both = || vec![change(4, 10.0, 11.0, -60.0), change(5, 10.1, 11.2, -30.0)];
        let merged = merge(links(&[(4, 5)]), both());
        assert_eq!(merged.len(), 1, "{merged:?}");
        let m = &merged[0];
        assert_eq!((m.gondola, m.shelf, m.plates.clone()), (3, 2, vec![4, 5]));
        assert_eq!((m.t_start, m.t_end, m.delta_g), (10.0, 11.2, -90.0));
        assert_eq!(m.parts.len(), 2);
        assert!((m.confidence - 0.9).abs() < 1e-9 && !m.degraded);
        let apart = merge(links(&[(5, 6)]), both());
        assert_eq!(apart.len(), 2, "{apart:?}");
        assert_eq!((apart[0].plates.clone(), apart[1].plates.clone()), (vec![4], vec![5]));
    }

    #[test]
    fn a_product_on_three_plates_is_one_event_and_time_separates_events() {
        let l = links(&[(7, 8), (9, 8)]);
        let out = merge(
            l.clone(),
            vec![change(9, 20.3, 21.0, -40.0), change(7, 20.0, 21.1, -20.0), change(8, 21.8, 22.5, -30.0)],
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].plates, vec![7, 8, 9]);
        assert_eq!(out[0].delta_g, -90.0);
        let out = merge(l, vec![change(7, 20.0, 21.0, -20.0), change(9, 25.0, 26.0, -20.0)]);
        assert_eq!(out.len(), 2, "{out:?}");
    }

    #[test]
    fn groups_wait_for_the_hold_and_come_out_in_order() {
        let mut m = ShelfMerger::new(links(&[(1, 2)]), &DetectorParams::default());
        assert!(m.push(change(2, 10.0, 11.0, -50.0)).is_empty());
        assert!(m.push(change(6, 9.5, 10.5, 70.0)).is_empty());
        assert!(m.advance(13.4).is_empty());
        let out = m.advance(14.0);
        assert_eq!(out.iter().map(|c| c.plates.clone()).collect::<Vec<_>>(), vec![vec![6], vec![2]]);
        assert_eq!(m.pending(), 0);
        // Another shelf never merges, even if someone linked it.
        let mut m = ShelfMerger::new([(PlateId::new(3, 2, 1), PlateId::new(3, 3, 1))], &DetectorParams::default());
        assert!(!m.linked(PlateId::new(3, 2, 1), PlateId::new(3, 3, 1)));
        m.push(change(1, 10.0, 11.0, -50.0));
        m.push(PlateChange { plate: PlateId::new(3, 3, 1), ..change(1, 10.0, 11.0, -50.0) });
        assert_eq!(m.flush().len(), 2);
    }

    #[test]
    fn a_group_waits_for_a_linked_plate_still_changing() {
        let mut m = ShelfMerger::new(links(&[(4, 5)]), &DetectorParams::default());
        m.set_changing(PlateId::new(3, 2, 5), Some(10.2));
        // An unlinked plate's phase is not tracked.
        m.set_changing(PlateId::new(3, 2, 9), Some(10.0));
        assert!(m.push(change(4, 10.0, 11.0, -60.0)).is_empty());
        assert!(m.advance(15.0).is_empty(), "plate 5 may still add its part");
        m.set_changing(PlateId::new(3, 2, 5), None);
        let out = m.push(change(5, 10.2, 15.5, -300.0));
        assert!(out.is_empty());
        let out = m.advance(18.5);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!((out[0].plates.clone(), out[0].delta_g), (vec![4, 5], -360.0));
        // A plate that never settles holds a group for `merge_max_hold_s` at most.
        m.set_changing(PlateId::new(3, 2, 5), Some(30.0));
        m.push(change(4, 30.0, 31.0, -60.0));
        assert!(m.advance(40.9).is_empty());
        assert_eq!(m.advance(41.0).len(), 1);
    }

    #[test]
    fn parts_that_cancel_are_dropped_and_a_plate_changing_twice_is_combined() {
        // An item moved from plate 4 to plate 5 of the same product: nothing left the shelf.
        assert!(merge(links(&[(4, 5)]), vec![change(4, 10.0, 11.0, -90.0), change(5, 10.5, 11.5, 89.0)]).is_empty());
        let out = merge(vec![], vec![change(4, 10.0, 11.0, -90.0), change(4, 11.5, 12.5, -90.0)]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].parts.len(), 1);
        assert_eq!((out[0].parts[0].delta_g, out[0].parts[0].t_end, out[0].parts[0].after_g), (-180.0, 12.5, 910.0));
        let mut bad = change(4, 10.0, 11.0, -90.0);
        bad.delta_g = f64::NAN;
        assert!(merge(vec![], vec![bad]).is_empty());
    }
}
