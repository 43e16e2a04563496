//! The simulator's scenarios: how busy the store is, how shoppers behave and
//! how noisy the sensors are. `standard` is an ordinary afternoon,
//! `crowded` a rush hour around a promotion, `adversarial` collects the hard
//! cases on purpose (near-equal weights, wrong-shelf returns, simultaneous
//! grabs at one shelf, groups handing items over).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    Standard,
    Crowded,
    Adversarial,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [Scenario::Standard, Scenario::Crowded, Scenario::Adversarial];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Standard => "standard",
            Scenario::Crowded => "crowded",
            Scenario::Adversarial => "adversarial",
        }
    }

    pub fn params(self) -> ScenarioParams {
        let standard = ScenarioParams {
            mean_interarrival_s: 45.0,
            group_p: 0.15,
            max_guests: 2,
            stops: [2, 6],
            put_back_p: 0.08,
            wrong_shelf_p: 0.1,
            near_equal_p: 0.05,
            simultaneous_p: 0.0,
            handover_p: 0.0,
            hotspot_p: 0.0,
            walk_speed_mps: [0.8, 1.3],
            touch_rate_hz: 0.002,
            keypoint_jitter_px: 2.5,
            miss_p: 0.05,
            false_detections_per_frame: 0.01,
            hand_crop_p: 0.1,
            item_hidden_p: 0.4,
        };
        match self {
            Scenario::Standard => standard,
            Scenario::Crowded => ScenarioParams {
                mean_interarrival_s: 12.0,
                group_p: 0.25,
                hotspot_p: 0.35,
                simultaneous_p: 0.05,
                miss_p: 0.08,
                false_detections_per_frame: 0.02,
                touch_rate_hz: 0.004,
                ..standard
            },
            Scenario::Adversarial => ScenarioParams {
                mean_interarrival_s: 25.0,
                group_p: 0.35,
                put_back_p: 0.25,
                wrong_shelf_p: 0.4,
                near_equal_p: 0.4,
                simultaneous_p: 0.25,
                handover_p: 0.5,
                hotspot_p: 0.1,
                miss_p: 0.1,
                keypoint_jitter_px: 4.0,
                false_detections_per_frame: 0.03,
                touch_rate_hz: 0.006,
                hand_crop_p: 0.07,
                item_hidden_p: 0.55,
                ..standard
            },
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| format!("unknown scenario {s:?}: expected standard, crowded or adversarial"))
    }
}

/// Knobs of one scenario.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioParams {
    /// Mean time between two parties arriving (Poisson arrivals), seconds.
    pub mean_interarrival_s: f64,
    /// Probability that a party brings guests (1..=max_guests, one account).
    pub group_p: f64,
    pub max_guests: u8,
    /// Shelf stops per person, inclusive range.
    pub stops: [u32; 2],
    /// Probability that a picked item is later put back.
    pub put_back_p: f64,
    /// Of those, the probability that it goes back on a wrong plate.
    pub wrong_shelf_p: f64,
    /// Probability that a stop targets a product with a near-equal (< 5 %) neighbour.
    pub near_equal_p: f64,
    /// Probability that a stop is timed to meet another shopper at the next plates.
    pub simultaneous_p: f64,
    /// In a group, probability that a guest's pick is later put back by the host.
    pub handover_p: f64,
    /// Probability that a stop goes to the promotion gondola (crowding).
    pub hotspot_p: f64,
    pub walk_speed_mps: [f64; 2],
    /// Hand touches that leave nothing, per plate-second (browsing).
    pub touch_rate_hz: f64,
    /// Keypoint position noise, pixels (σ).
    pub keypoint_jitter_px: f64,
    /// Probability that the detector misses a visible person in a frame.
    pub miss_p: f64,
    /// Spurious person detections per camera frame.
    pub false_detections_per_frame: f64,
    /// Probability that a detection's visible wrist gets a hand crop in a
    /// frame (the vision node embeds a share of them, not every one).
    pub hand_crop_p: f64,
    /// Probability that a crop of a hand holding an item cannot make it
    /// out (covered by the palm, turned away): it reads as an empty hand.
    pub item_hidden_p: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for s in Scenario::ALL {
            assert_eq!(s.name().parse::<Scenario>().unwrap(), s);
        }
        assert!("busy".parse::<Scenario>().unwrap_err().contains("unknown scenario"));
    }

    #[test]
    fn crowded_is_busier_and_adversarial_is_harder_than_standard() {
        let (s, c, a) = (Scenario::Standard.params(), Scenario::Crowded.params(), Scenario::Adversarial.params());
        assert!(c.mean_interarrival_s < s.mean_interarrival_s / 2.0);
        assert!(a.wrong_shelf_p > s.wrong_shelf_p && a.near_equal_p > s.near_equal_p);
        assert!(a.simultaneous_p > 0.0 && a.handover_p > 0.0);
    }
}
