//! The tracker on synthetic shoppers seen through real camera models
//! ([`super::synth`]): identity switches per 100 track-minutes, coverage and
//! position error, in random walks with crossings and occlusions, and in
//! staged head-on crossings and full occlusions.

use super::assign::assign;
use super::synth::{self, Noise, Walker};
use super::{Fate, Tracker, TrackerParams};
use crate::ids::TrackId;

const DT: f64 = 0.1;
const NOISE: Noise = Noise { pixel_sigma: 3.0, keypoint_drop: 0.1, miss: 0.1 };

#[derive(Debug, Default)]
struct Score {
    switches: u32,
    /// Walker-seconds in the store.
    present_s: f64,
    /// Walker-steps seen by at least one camera, and of those matched to a track.
    visible_steps: u32,
    matched_steps: u32,
    errors_m: Vec<f64>,
}

impl Score {
    fn track_minutes(&self) -> f64 {
        self.present_s / 60.0
    }
    fn switches_per_100_track_minutes(&self) -> f64 {
        100.0 * f64::from(self.switches) / self.track_minutes()
    }
    fn coverage(&self) -> f64 {
        f64::from(self.matched_steps) / f64::from(self.visible_steps.max(1))
    }
    fn median_error(&mut self) -> f64 {
        self.errors_m.sort_by(f64::total_cmp);
        self.errors_m.get(self.errors_m.len() / 2).copied().unwrap_or(f64::NAN)
    }
}

/// Runs walkers through the tracker; `hide(w, t)` hides walker `w` from
/// every camera at `t` (an occlusion). Truth and tracks are matched by
/// minimum total distance within 0.75 m; a walker whose matched id changes
/// counts one switch.
fn run(walkers: &[Walker], span_s: f64, looks: bool, seed: u64, hide: &dyn Fn(usize, f64) -> bool) -> Score {
    let layout = synth::store();
    let mut tracker = Tracker::new(&layout, TrackerParams::default());
    let mut rng = synth::rng(seed);
    let mut last: Vec<Option<TrackId>> = vec![None; walkers.len()];
    let mut score = Score::default();
    for step in 0..(span_s / DT) as usize {
        let t = step as f64 * DT;
        let shown: Vec<Walker> = walkers
            .iter()
            .enumerate()
            .map(
                |(w, walker)| {
                    if hide(w, t) { Walker { enter: -1.0, leave: -1.0, ..walker.clone() } } else { walker.clone() }
                },
            )
            .collect();
        let obs = synth::observe(&layout, &shown, t, NOISE, looks, &mut rng);
        let tracks = tracker.update(t, &obs);
        let present: Vec<(usize, [f64; 2])> =
            walkers.iter().enumerate().filter_map(|(w, walker)| walker.at(t).map(|(at, _)| (w, at))).collect();
        score.present_s += DT * present.len() as f64;
        let picks = match_truth(&present, &tracks, &last);
        for ((w, at), pick) in present.iter().zip(picks) {
            let visible = !hide(*w, t) && obs.iter().any(|o| synth_owner(&o.person, &layout, at));
            score.visible_steps += u32::from(visible);
            let Some(k) = pick else { continue };
            score.matched_steps += u32::from(visible);
            score.errors_m.push((tracks[k].x - at[0]).hypot(tracks[k].y - at[1]));
            if last[*w].as_ref().is_some_and(|id| *id != tracks[k].id) {
                score.switches += 1;
                println!(
                    "id switch: seed {seed}, t {t:.1} s, walker {w} at {at:.2?}: {:?} -> {}",
                    last[*w], tracks[k].id
                );
            }
            last[*w] = Some(tracks[k].id.clone());
        }
    }
    score
}

/// CLEAR-MOT matching: a walker keeps last step's track while it is within
/// 0.75 m; the others are matched by minimum total distance within 0.75 m.
fn match_truth(
    present: &[(usize, [f64; 2])],
    tracks: &[super::TrackState],
    last: &[Option<TrackId>],
) -> Vec<Option<usize>> {
    let dist = |at: &[f64; 2], k: usize| (tracks[k].x - at[0]).hypot(tracks[k].y - at[1]);
    let mut picks: Vec<Option<usize>> = present
        .iter()
        .map(|(w, at)| tracks.iter().position(|tr| Some(&tr.id) == last[*w].as_ref()).filter(|&k| dist(at, k) <= 0.75))
        .collect();
    let free: Vec<usize> = (0..tracks.len()).filter(|k| !picks.contains(&Some(*k))).collect();
    let open: Vec<usize> = (0..present.len()).filter(|&i| picks[i].is_none()).collect();
    let costs: Vec<Vec<Option<f64>>> =
        open.iter().map(|&i| free.iter().map(|&k| Some(dist(&present[i].1, k))).collect()).collect();
    for (&i, pick) in open.iter().zip(assign(&costs, free.len(), 0.75)) {
        picks[i] = pick.map(|c| free[c]);
    }
    picks
}

/// Whether a detection's ankles project near a floor point in some camera
/// (to count a walker as visible without peeking into the tracker).
fn synth_owner(person: &crate::vision::decode::Person, layout: &crate::layout::StoreLayout, at: &[f64; 2]) -> bool {
    layout.cameras.values().any(|cam| {
        cam.project([at[0], at[1], 0.08]).is_some_and(|px| {
            let k = &person.keypoints[15];
            k.visible && (f64::from(k.x) - px[0]).hypot(f64::from(k.y) - px[1]) < 25.0
        })
    })
}

fn random_walks(looks: bool, seeds: std::ops::Range<u64>) -> Score {
    let mut total = Score::default();
    for seed in seeds {
        let mut rng = synth::rng(seed);
        let walkers = synth::walkers(12, 8.0, &mut rng);
        let s = run(&walkers, 8.0 * 60.0 + 200.0, looks, seed + 1000, &|_, _| false);
        total.switches += s.switches;
        total.present_s += s.present_s;
        total.visible_steps += s.visible_steps;
        total.matched_steps += s.matched_steps;
        total.errors_m.extend(s.errors_m);
    }
    total
}

fn check(name: &str, mut s: Score) {
    let median = s.median_error();
    println!(
        "{name}: {:.1} track-minutes, {} id switches ({:.2} per 100 track-minutes), coverage {:.3}, median error {:.3} m",
        s.track_minutes(),
        s.switches,
        s.switches_per_100_track_minutes(),
        s.coverage(),
        median
    );
    assert!(s.track_minutes() >= 100.0, "scenario too small: {:.1} track-minutes", s.track_minutes());
    assert!(s.switches_per_100_track_minutes() <= 1.0, "{name}: {} switches", s.switches);
    assert!(s.coverage() >= 0.95, "{name}: coverage {:.3}", s.coverage());
    assert!(median < 0.2, "{name}: median error {median:.3} m");
}

/// 6 seeds x 12 walkers over 8 minutes (each 1-3 minutes in the store,
/// entering and leaving by one door, about 4 at a time on 24 m², never
/// closer than 0.45 m), 10 Hz, with clothing embeddings.
#[test]
fn random_walks_with_appearance_keep_their_ids() {
    check("random walks, appearance", random_walks(true, 1..7));
}

/// The same walks without appearance (what a pose-only feed gives).
#[test]
fn random_walks_without_appearance_keep_their_ids() {
    check("random walks, no appearance", random_walks(false, 11..17));
}

/// Two shoppers walking head-on past each other 0.5 m apart, and two
/// crossing at right angles, 40 times each; half with appearance.
#[test]
fn staged_crossings_do_not_swap_ids() {
    let mut switches = 0;
    let mut minutes = 0.0;
    for i in 0..40u64 {
        let mut rng = synth::rng(100 + i);
        let look = |rng: &mut rand::rngs::StdRng| synth::walkers(1, 1.0, rng).remove(0).look;
        let line =
            |a: [f64; 2], b: [f64; 2], look| Walker { enter: 0.0, leave: 8.0, keys: vec![(0.0, a), (8.0, b)], look };
        let pairs = [
            (line([0.5, -1.75], [5.5, -1.75], look(&mut rng)), line([5.5, -2.25], [0.5, -2.25], look(&mut rng))),
            (line([1.0, -2.0], [5.0, -2.0], look(&mut rng)), line([3.0, -3.8], [3.0, -0.2], look(&mut rng))),
        ];
        for (a, b) in pairs {
            let s = run(&[a, b], 8.0, i % 2 == 0, 500 + i, &|_, _| false);
            switches += s.switches;
            minutes += s.track_minutes();
        }
    }
    println!("staged crossings: {minutes:.1} track-minutes, {switches} id switches");
    assert!(switches as f64 <= (minutes / 100.0).max(1.0), "{switches} switches in {minutes:.1} track-minutes");
}

/// A shopper hidden from every camera for 2 s (behind a taller shopper, a
/// display) while walking on comes back under the same id: by appearance,
/// and without appearance when they reappear near where they were lost.
#[test]
fn full_occlusions_are_bridged() {
    for looks in [true, false] {
        let mut switches = 0;
        for i in 0..20u64 {
            let mut rng = synth::rng(300 + i);
            let mut w = synth::walkers(1, 1.0, &mut rng).remove(0);
            w.keys = vec![(0.0, [1.0, -2.0]), (4.0, [3.0, -2.5]), (6.0, [3.0, -2.5]), (10.0, [5.0, -1.0])];
            (w.enter, w.leave) = (0.0, 10.0);
            let s = run(&[w], 10.0, looks, 700 + i, &|_, t| (3.0..5.0).contains(&t));
            switches += s.switches;
        }
        assert_eq!(switches, 0, "appearance {looks}: {switches} switches in 20 occlusions");
    }
}

#[test]
fn outcomes_explain_every_observation() {
    let layout = synth::store();
    let mut tracker = Tracker::new(&layout, TrackerParams::default());
    let mut rng = synth::rng(9);
    let walker = Walker { enter: 0.0, leave: 5.0, keys: vec![(0.0, [2.0, -2.0]), (5.0, [4.0, -2.0])], look: vec![1.0] };
    let mut obs = synth::observe(&layout, &[walker], 0.0, NOISE, false, &mut rng);
    assert!(obs.len() >= 2, "seen by several cameras");
    obs.push(super::CameraObservation { camera: "nope".into(), ..obs[0].clone() });
    let states = tracker.update(0.0, &obs);
    assert!(states.is_empty(), "a new track is tentative");
    let fates: Vec<Fate> = tracker.outcomes().iter().map(|o| o.fate).collect();
    assert_eq!(fates.last(), Some(&Fate::UnknownCamera));
    assert!(fates[..fates.len() - 1].iter().all(|f| *f == Fate::NewTrack), "{fates:?}");
    // the same time again is stale and changes nothing
    tracker.update(0.0, &obs);
    assert_eq!(tracker.stats().stale_steps, 1);
    assert!(tracker.outcomes().iter().all(|o| o.fate == Fate::StaleTime));
}

#[test]
fn a_hand_crop_belongs_to_the_track_only_where_its_hands_were_located() {
    use crate::vision::decode::movenet::Keypoint;
    use crate::vision::decode::{BoxPx, Person};
    let layout = crate::sim::demo_layout::layout();
    let camera = layout.cameras.values().next().expect("a camera");
    let hand = [3.0, 2.4, 1.1];
    let [x, y] = camera.project(hand).expect("in front of the camera");
    let person = |wx: f64, visible: bool| {
        let mut keypoints = vec![Keypoint { x: 0.0, y: 0.0, score: 0.0, visible: false }; 17];
        keypoints[10] = Keypoint { x: wx as f32, y: y as f32, score: 0.8, visible };
        Person { bbox: BoxPx { x0: 0.0, y0: 0.0, x1: 60.0, y1: 200.0 }, score: 0.9, keypoints }
    };
    // 0.15 of a 200 px box: 30 px.
    assert!(super::step::crop_at_a_located_hand(camera, &person(x + 20.0, true), 10, &[hand]));
    assert!(!super::step::crop_at_a_located_hand(camera, &person(x + 45.0, true), 10, &[hand]), "a neighbour's wrist");
    assert!(!super::step::crop_at_a_located_hand(camera, &person(x, false), 10, &[hand]), "wrist not seen");
    assert!(!super::step::crop_at_a_located_hand(camera, &person(x, true), 10, &[]), "no hand located");
}
