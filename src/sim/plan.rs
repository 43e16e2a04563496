//! The script of a simulated store: parties arrive (Poisson) and pass the
//! gate one party at a time, each person walks from the gate to shelf stops
//! and out, and every stop is a pick or
//! a put-back with exact times, plates and grams. Hard cases are planted on
//! purpose and tagged, so a test can show a scenario contains them.

use super::motion::route;
use super::scenario::ScenarioParams;
use super::{Action, ActionKind, HardCase, Party, PersonPlan, Reach, Waypoint, demo_layout};
use crate::catalog::Catalog;
use crate::ids::{PlateId, ShopperId, Sku};
use crate::layout::StoreGeometry;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

type Rng = Xoshiro256PlusPlus;

/// Where shoppers appear, scan, and leave (metres).
const DOOR: [f64; 2] = [0.3, 0.3];
const GATE: [f64; 2] = [0.65, 0.7];
const EXIT: [f64; 2] = [8.4, 0.55];
/// After a scan, the gate is free for the next party this much later (s):
/// the party leaves the gate 0.5 s after the scan and clears the entrance.
const GATE_CLEAR_S: f64 = 2.0;
/// Two people standing at shelves keep at least this far apart (m): two
/// bodies cannot share one spot, so a shopper whose product is next to
/// where someone already stands steps aside and reaches across.
const PERSONAL_SPACE_M: f64 = 0.55;
/// The farthest a shopper steps aside along the shelf for that (m); with
/// no free spot that near, they wait for the nearest one to clear.
const MAX_SIDESTEP_M: f64 = 0.5;
/// Where a shopper waits for a spot at a shelf: the middle of the aisle (y, m).
const QUEUE_Y: f64 = 3.0;
/// The promotion gondola that draws crowds.
const HOTSPOT_GONDOLA: u16 = 2;

/// A run of neighbouring plates carrying one product on one shelf.
#[derive(Clone, Debug)]
pub(crate) struct Run {
    pub plates: Vec<PlateId>,
    pub sku: Sku,
    pub unit_g: f64,
    pub tolerance_g: f64,
    /// Another run on the same shelf next to this one weighs within 5 %.
    pub near_equal: bool,
}

pub(crate) fn runs(catalog: &Catalog) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (plate, skus) in &catalog.planogram {
        let Some(sku) = skus.first() else { continue };
        match runs.last_mut() {
            Some(r)
                if r.sku == *sku
                    && r.plates.last().is_some_and(|p| same_shelf(p, plate) && p.plate + 1 == plate.plate) =>
            {
                r.plates.push(*plate)
            }
            _ => {
                let product = &catalog.products[sku];
                runs.push(Run {
                    plates: vec![*plate],
                    sku: sku.clone(),
                    unit_g: product.unit_weight_g,
                    tolerance_g: product.weight_tolerance_g,
                    near_equal: false,
                })
            }
        }
    }
    for i in 0..runs.len() {
        let close = |j: usize| {
            runs.get(j).is_some_and(|o: &Run| {
                same_shelf(&o.plates[0], &runs[i].plates[0])
                    && (o.unit_g - runs[i].unit_g).abs() / runs[i].unit_g < 0.05
            })
        };
        runs[i].near_equal = (i > 0 && close(i - 1)) || close(i + 1);
    }
    runs
}

fn same_shelf(a: &PlateId, b: &PlateId) -> bool {
    a.gondola == b.gondola && a.shelf == b.shelf
}

/// An item a person is carrying, and where it came from.
#[derive(Clone, Debug)]
struct Held {
    run: usize,
    qty: u32,
    grams: Vec<f64>,
    handed_over: bool,
    /// When the pick was done (the item in hand).
    picked_at: f64,
}

/// A guest's item reaches the host this long after the guest picked it (s):
/// the host puts it back no sooner.
pub(crate) const HANDOVER_AFTER_S: f64 = 5.0;

pub(crate) struct Planner<'a> {
    pub params: ScenarioParams,
    pub geometry: &'a StoreGeometry,
    pub runs: Vec<Run>,
    pub rng: Rng,
    pub people: Vec<PersonPlan>,
    pub actions: Vec<Action>,
    /// Units left per run.
    pub stock: Vec<u32>,
    /// Where and when everyone planned so far stands at a shelf.
    pub standing: Vec<Standing>,
}

/// One person standing at a shelf from `from` to `to` at `at`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Standing {
    pub from: f64,
    pub to: f64,
    pub at: [f64; 2],
}

/// One shelf stop being planned.
struct Stop {
    party: u32,
    run: usize,
    kind: ActionKind,
    qty: u32,
    grams: f64,
    tags: Vec<HardCase>,
    /// Touch the shelf at this time (a planned simultaneous grab), if reachable.
    touch_at: Option<f64>,
}

/// Units on each plate at opening time.
pub(crate) const UNITS_PER_PLATE: u32 = 12;

fn sum(v: &[f64]) -> f64 {
    v.iter().sum()
}

impl<'a> Planner<'a> {
    pub fn new(params: ScenarioParams, geometry: &'a StoreGeometry, catalog: &Catalog, seed: u64) -> Self {
        let runs = runs(catalog);
        let stock = runs.iter().map(|r| UNITS_PER_PLATE * r.plates.len() as u32).collect();
        Self {
            params,
            geometry,
            runs,
            rng: Rng::seed_from_u64(seed),
            people: Vec::new(),
            actions: Vec::new(),
            stock,
            standing: Vec::new(),
        }
    }

    /// Plans `count` parties arriving from `t0`.
    pub fn plan(&mut self, t0: f64, count: usize) -> Vec<Party> {
        let mut parties = Vec::new();
        let mut t = t0 + 3.0;
        // The gate admits one party at a time, as a turnstile does: a party
        // arriving while another is at it waits outside, out of view.
        let mut gate_free_at = f64::NEG_INFINITY;
        for index in 0..count as u32 {
            t += -self.params.mean_interarrival_s * (1.0 - self.rng.random::<f64>()).ln();
            let party = self.party(index, t.max(gate_free_at));
            gate_free_at = party.scan_t + GATE_CLEAR_S;
            parties.push(party);
        }
        parties
    }

    fn party(&mut self, index: u32, arrival: f64) -> Party {
        let guests = if self.rng.random::<f64>() < self.params.group_p {
            self.rng.random_range(1..=u32::from(self.params.max_guests.max(1)))
        } else {
            0
        };
        let scan_t = arrival + 2.0;
        let host_id = self.people.len() as u32;
        let mut exit_t: f64 = 0.0;
        let mut handed: Vec<Held> = Vec::new();
        // Guests first: the host may put back what a guest handed over.
        let guest_ids: Vec<u32> = (0..guests).map(|g| host_id + 1 + g).collect();
        let mut plans = Vec::new();
        for (g, &id) in guest_ids.iter().enumerate() {
            let start = arrival + 1.0 + g as f64 * 1.2;
            let (plan, held) = self.person(id, index, true, start, scan_t, Vec::new());
            exit_t = exit_t.max(plan.path.last().map_or(start, |w| w.t));
            handed.extend(held.into_iter().filter(|h| h.handed_over));
            plans.push(plan);
        }
        let (host, _) = self.person(host_id, index, false, arrival, scan_t, handed);
        exit_t = exit_t.max(host.path.last().map_or(arrival, |w| w.t));
        self.people.push(host);
        self.people.extend(plans);
        Party {
            index,
            account: ShopperId::from(format!("sim-shopper-{index:05}")),
            host: host_id,
            guests: guest_ids,
            scan_t,
            exit_t,
        }
    }

    /// One person's walk and stops. `to_put_back` are items a guest handed
    /// this person, put back at the end of the visit.
    fn person(
        &mut self,
        id: u32,
        party: u32,
        guest: bool,
        start: f64,
        scan_t: f64,
        to_put_back: Vec<Held>,
    ) -> (PersonPlan, Vec<Held>) {
        let speed = self.range(self.params.walk_speed_mps);
        let mut w = Walk { speed, path: vec![Waypoint { t: start, x: DOOR[0], y: DOOR[1], facing: 0.8 }] };
        w.go(GATE);
        w.wait_until(scan_t + 0.5);
        let mut plan = PersonPlan {
            id,
            party,
            height_m: 1.55 + self.rng.random::<f64>() * 0.4,
            appearance: self.appearance(),
            path: Vec::new(),
            reaches: Vec::new(),
        };
        let mut held: Vec<Held> = Vec::new();
        let stops = self.rng.random_range(self.params.stops[0]..=self.params.stops[1]);
        for _ in 0..stops {
            let put_back = !held.is_empty() && self.rng.random::<f64>() < self.params.put_back_p;
            if put_back {
                let h = held.swap_remove(self.rng.random_range(0..held.len()));
                let wrong = self.rng.random::<f64>() < self.params.wrong_shelf_p;
                let run = if wrong { self.other_run(h.run) } else { h.run };
                let tags = if wrong { vec![HardCase::WrongShelfReturn] } else { Vec::new() };
                self.put_back(&mut w, &mut plan, party, run, &h, tags);
            } else {
                let (run, tags, touch_at) = self.choose_pick(w.now());
                let wanted = [1, 1, 1, 1, 2, 2, 3][self.rng.random_range(0..7)];
                let qty = wanted.min(self.stock[run]);
                if qty == 0 {
                    continue;
                }
                self.stock[run] -= qty;
                let r = &self.runs[run];
                let (unit, tol) = (r.unit_g, r.tolerance_g);
                let grams = (0..qty).map(|_| unit + tol * (self.rng.random::<f64>() * 2.0 - 1.0)).collect();
                let handed_over = guest && self.rng.random::<f64>() < self.params.handover_p;
                let h = Held { run, qty, grams, handed_over, picked_at: 0.0 };
                self.stop(
                    &mut w,
                    &mut plan,
                    Stop { party, run, kind: ActionKind::Pick, qty, grams: sum(&h.grams), tags, touch_at },
                );
                held.push(Held { picked_at: w.now(), ..h });
            }
        }
        for h in to_put_back {
            // Not before the guest has picked it and brought it over.
            w.wait_until(h.picked_at + HANDOVER_AFTER_S);
            self.put_back(&mut w, &mut plan, party, h.run, &h, vec![HardCase::Handover]);
        }
        w.go(EXIT);
        let end = w.now() + 1.0;
        w.path.push(Waypoint { t: end, x: EXIT[0] + 0.3, y: EXIT[1] - 0.2, facing: -0.5 });
        plan.path = w.path;
        (plan, held)
    }
}

impl Planner<'_> {
    fn range(&mut self, r: [f64; 2]) -> f64 {
        r[0] + (r[1] - r[0]) * self.rng.random::<f64>()
    }

    /// A clothing descriptor: a random unit vector (what an appearance
    /// embedding of this person's torso would cluster around).
    fn appearance(&mut self) -> Vec<f32> {
        let v: Vec<f32> = (0..16).map(|_| self.rng.random::<f32>() - 0.5).collect();
        crate::vision::decode::l2_normalise(&v)
    }

    /// The product for a pick: a planned meeting with another shopper at
    /// the next plates, a near-equal product, the promotion, or any.
    fn choose_pick(&mut self, now: f64) -> (usize, Vec<HardCase>, Option<f64>) {
        if self.rng.random::<f64>() < self.params.simultaneous_p
            && let Some((run, t)) = self.meeting(now)
        {
            return (run, vec![HardCase::Simultaneous], Some(t));
        }
        let pool: Vec<usize> = if self.rng.random::<f64>() < self.params.near_equal_p {
            (0..self.runs.len()).filter(|&i| self.runs[i].near_equal).collect()
        } else if self.rng.random::<f64>() < self.params.hotspot_p {
            (0..self.runs.len()).filter(|&i| self.runs[i].plates[0].gondola == HOTSPOT_GONDOLA).collect()
        } else {
            Vec::new()
        };
        let pool: Vec<usize> = if pool.is_empty() { (0..self.runs.len()).collect() } else { pool };
        // Age-restricted products are a rare pick (each one sends the visit to review).
        let mut run = pool[self.rng.random_range(0..pool.len())];
        for _ in 0..20 {
            if !self.restricted(run) || self.rng.random::<f64>() < 0.03 {
                break;
            }
            run = pool[self.rng.random_range(0..pool.len())];
        }
        let tags = if self.runs[run].near_equal { vec![HardCase::NearEqual] } else { Vec::new() };
        (run, tags, None)
    }

    fn restricted(&self, run: usize) -> bool {
        self.runs[run].plates[0].gondola == crate::sim::RESTRICTED_GONDOLA
    }

    /// Another party's planned touch 5-60 s ahead whose shelf has a
    /// neighbouring run: that run and a touch time within 0.3 s of it.
    fn meeting(&mut self, now: f64) -> Option<(usize, f64)> {
        let options: Vec<(usize, f64)> = self
            .actions
            .iter()
            .filter(|a| a.t > now + 5.0 && a.t < now + 60.0 && a.kind == ActionKind::Pick)
            .filter_map(|a| {
                let plate = a.plates.first()?.0;
                let i = self.runs.iter().position(|r| r.plates.contains(&plate))?;
                let neighbour = [i.wrapping_sub(1), i + 1].into_iter().find(|&j| {
                    self.runs.get(j).is_some_and(|r| same_shelf(&r.plates[0], &plate) && !self.restricted(j))
                })?;
                Some((neighbour, a.t))
            })
            .collect();
        let &(run, t) = options.get(self.rng.random_range(0..options.len().max(1)))?;
        Some((run, t + self.range([-0.3, 0.3])))
    }

    /// The spot nearest `preferred` along the shelf front, at most
    /// `MAX_SIDESTEP_M` from it, that keeps `PERSONAL_SPACE_M` from everyone
    /// standing at a shelf between `from` and `to`; or, when there is none,
    /// when the nearest blocking person leaves.
    fn free_spot(&self, preferred: [f64; 2], from: f64, to: f64) -> Result<[f64; 2], f64> {
        let busy: Vec<&Standing> = self.standing.iter().filter(|s| s.from < to && s.to > from).collect();
        let steps = (MAX_SIDESTEP_M / 0.05).round() as i32;
        let offsets = (0..=steps).flat_map(|i| [i, -i]).map(|i| f64::from(i) * 0.05);
        for dx in offsets {
            let at = [preferred[0] + dx, preferred[1]];
            if busy.iter().all(|s| (s.at[0] - at[0]).hypot(s.at[1] - at[1]) >= PERSONAL_SPACE_M) {
                return Ok(at);
            }
        }
        let near = busy.iter().filter(|s| (s.at[0] - preferred[0]).hypot(s.at[1] - preferred[1]) < PERSONAL_SPACE_M);
        Err(near.map(|s| s.to).fold(from, f64::max))
    }

    /// A run other than `run` (a wrong shelf to put an item back on).
    fn other_run(&mut self, run: usize) -> usize {
        loop {
            let other = self.rng.random_range(0..self.runs.len());
            if other != run {
                return other;
            }
        }
    }

    fn put_back(&mut self, w: &mut Walk, plan: &mut PersonPlan, party: u32, run: usize, h: &Held, tags: Vec<HardCase>) {
        let sku_run = h.run;
        self.stock[sku_run] += u32::from(run == sku_run) * h.qty;
        let stop =
            Stop { party, run, kind: ActionKind::PutBack, qty: h.qty, grams: sum(&h.grams), tags, touch_at: None };
        self.stop_with_sku(w, plan, stop, sku_run);
    }

    fn stop(&mut self, w: &mut Walk, plan: &mut PersonPlan, stop: Stop) {
        let run = stop.run;
        self.stop_with_sku(w, plan, stop, run);
    }

    /// Walks to the run, reaches in, and books the weight change.
    fn stop_with_sku(&mut self, w: &mut Walk, plan: &mut PersonPlan, mut stop: Stop, sku_run: usize) {
        let plates = self.runs[stop.run].plates.clone();
        let gondola = plates[0].gondola;
        let front: Vec<_> = plates.iter().filter_map(|p| self.geometry.plate(p)).map(|p| p.front_centre()).collect();
        let mid_x = front.iter().map(|f| f[0]).sum::<f64>() / front.len().max(1) as f64;
        let north = demo_layout::faces_north(gondola);
        let stand_y = demo_layout::front_y(gondola) + if north { 0.45 } else { -0.45 };
        let preferred = [mid_x + self.range([-0.08, 0.08]), stand_y];
        // Stand where nobody stands for as long as this stop may take: the
        // longest wait for the touch, the hold, and the step back.
        let longest_s = 1.8 + 1.2 + 0.3 * f64::from(stop.qty) + 1.5;
        let spot = loop {
            let arrive = w.now() + walk_time(w.here(), preferred, w.speed);
            let until = stop.touch_at.map_or(arrive + longest_s, |t| (t + longest_s).max(arrive + longest_s));
            match self.free_spot(preferred, arrive, until) {
                Ok(spot) => break spot,
                // Wait behind, in the middle of the aisle, for the spot to clear.
                Err(free_at) => {
                    w.go([preferred[0], QUEUE_Y]);
                    w.wait_until((free_at - walk_time(w.here(), preferred, w.speed)).max(w.now() + 0.5));
                }
            }
        };
        w.go(spot);
        let facing = if north { -std::f64::consts::FRAC_PI_2 } else { std::f64::consts::FRAC_PI_2 };
        w.face(facing);
        let arrive = w.now();
        let mut touch = arrive + self.range([0.8, 1.8]);
        match stop.touch_at {
            Some(t) if t - 0.6 >= arrive => touch = t,
            _ => stop.tags.retain(|t| *t != HardCase::Simultaneous),
        }
        let hold = 1.2 + 0.3 * f64::from(stop.qty);
        let depth_in = if north { -0.12 } else { 0.12 };
        let mid = front[front.len() / 2];
        let target = [mid[0], mid[1] + depth_in, mid[2] + 0.08];
        // The hand on the target's side: the person's left is (-sin, cos) of the heading.
        let left = (target[0] - w.here()[0]) * -facing.sin() + (target[1] - w.here()[1]) * facing.cos();
        plan.reaches.push(Reach {
            t_start: touch - 0.6,
            t_touch: touch,
            t_end: touch + hold,
            right_hand: left < 0.0,
            target,
        });
        w.wait_until(touch + hold + self.range([0.3, 1.5]));
        self.standing.push(Standing { from: arrive, to: w.now(), at: spot });
        let sign = if stop.kind == ActionKind::Pick { -1.0 } else { 1.0 };
        let shares: Vec<f64> = plates.iter().map(|_| 0.5 + self.rng.random::<f64>()).collect();
        let total: f64 = shares.iter().sum();
        self.actions.push(Action {
            t: touch,
            person: plan.id,
            party: stop.party,
            kind: stop.kind,
            sku: self.runs[sku_run].sku.clone(),
            qty: stop.qty,
            plates: plates.iter().zip(&shares).map(|(p, s)| (*p, sign * stop.grams * s / total)).collect(),
            tags: stop.tags,
        });
    }
}

/// Time to walk from `from` to `to` along the store's route (s).
fn walk_time(from: [f64; 2], to: [f64; 2], speed: f64) -> f64 {
    let mut at = from;
    let mut metres = 0.0;
    for p in route(from, to) {
        metres += (p[0] - at[0]).hypot(p[1] - at[1]);
        at = p;
    }
    metres / speed.max(0.1)
}

/// A walk being built: waypoints with times.
pub(crate) struct Walk {
    pub speed: f64,
    pub path: Vec<Waypoint>,
}

impl Walk {
    pub fn now(&self) -> f64 {
        self.path.last().map_or(0.0, |w| w.t)
    }

    pub fn here(&self) -> [f64; 2] {
        self.path.last().map_or(DOOR, |w| [w.x, w.y])
    }

    pub fn go(&mut self, to: [f64; 2]) {
        for p in route(self.here(), to) {
            let from = self.here();
            let d = (p[0] - from[0]).hypot(p[1] - from[1]);
            let facing = (p[1] - from[1]).atan2(p[0] - from[0]);
            let t = self.now() + d / self.speed;
            self.path.push(Waypoint { t, x: p[0], y: p[1], facing });
        }
    }

    /// Stands still (facing as now) until `t`.
    pub fn wait_until(&mut self, t: f64) {
        if let Some(last) = self.path.last().cloned()
            && t > last.t
        {
            self.path.push(Waypoint { t, ..last });
        }
    }

    pub fn face(&mut self, facing: f64) {
        if let Some(last) = self.path.last_mut() {
            last.facing = facing;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn runs_follow_the_planogram_and_find_the_near_equal_pairs() {
        let catalog = Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/demo-store")).unwrap();
        let runs = runs(&catalog);
        let plates: usize = runs.iter().map(|r| r.plates.len()).sum();
        assert_eq!(plates, catalog.planogram.len());
        assert!(runs.iter().any(|r| r.plates.len() > 1), "some products span plates");
        assert!(runs.iter().filter(|r| r.near_equal).count() >= 4, "the demo planogram has near-equal neighbours");
    }
}
