//! The MQTT contract for plate readings (written down in `docs/mqtt.md`).
//!
//! Topic: `walkout/v1/<store>/plate/<gondola>/<shelf>/<plate>`, one per plate.
//! Payload: JSON `{"samples": [[unix_seconds, grams], ...], "seq": N}` with
//! 1 to [`MAX_SAMPLES_PER_BATCH`] samples, timestamps increasing;
//! `seq` (optional) counts batches per plate; unknown fields are ignored so
//! publishers may add their own. A `null` or non-finite value makes that one
//! sample invalid, not the batch.

use super::Sample;
use crate::ids::PlateId;
use serde::{Deserialize, Serialize};

/// Version segment of every topic; a breaking payload change bumps it.
pub const TOPIC_VERSION: &str = "v1";
/// Ten seconds at 60 Hz; larger batches are refused.
pub const MAX_SAMPLES_PER_BATCH: usize = 600;

/// The topic a plate publishes on.
pub fn plate_topic(store: &str, plate: PlateId) -> String {
    format!("walkout/{TOPIC_VERSION}/{store}/plate/{}/{}/{}", plate.gondola, plate.shelf, plate.plate)
}

/// The filter that subscribes to every plate of a store.
pub fn store_filter(store: &str) -> String {
    format!("walkout/{TOPIC_VERSION}/{store}/plate/+/+/+")
}

/// Why a message was not accepted; each is counted in `/metrics` by name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("topic is not walkout/v1/<store>/plate/<gondola>/<shelf>/<plate>")]
    BadTopic,
    #[error("topic is for store {0}, not this one")]
    OtherStore(String),
    #[error("payload is not valid JSON for a plate batch: {0}")]
    MalformedJson(String),
    #[error("batch has no samples")]
    EmptyBatch,
    #[error("batch has {0} samples; at most {MAX_SAMPLES_PER_BATCH} are accepted")]
    TooLarge(usize),
}

impl DecodeError {
    /// Stable label for metrics and logs.
    pub fn cause(&self) -> &'static str {
        match self {
            Self::BadTopic => "bad_topic",
            Self::OtherStore(_) => "other_store",
            Self::MalformedJson(_) => "malformed_json",
            Self::EmptyBatch => "empty_batch",
            Self::TooLarge(_) => "too_large",
        }
    }
}

/// A batch as published.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// `[unix_seconds, grams]`; either may be `null` from a faulty publisher.
    pub samples: Vec<(Option<f64>, Option<f64>)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

impl Payload {
    pub fn from_samples(samples: &[Sample], seq: u64) -> Self {
        Self { samples: samples.iter().map(|s| (Some(s.t), Some(s.grams))).collect(), seq: Some(seq) }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a batch always serialises")
    }
}

/// A decoded batch: the valid samples and how many were not.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub plate: PlateId,
    pub samples: Vec<Sample>,
    /// Samples with a missing, NaN or infinite time or weight.
    pub invalid_samples: usize,
    pub seq: Option<u64>,
}

/// Parses `walkout/v1/<store>/plate/<g>/<s>/<p>` for `store`.
pub fn parse_topic(topic: &str, store: &str) -> Result<PlateId, DecodeError> {
    let parts: Vec<&str> = topic.split('/').collect();
    let ["walkout", version, topic_store, "plate", g, s, p] = parts.as_slice() else {
        return Err(DecodeError::BadTopic);
    };
    if *version != TOPIC_VERSION {
        return Err(DecodeError::BadTopic);
    }
    if *topic_store != store {
        return Err(DecodeError::OtherStore((*topic_store).to_owned()));
    }
    format!("{g}.{s}.{p}").parse().map_err(|_| DecodeError::BadTopic)
}

/// Decodes one MQTT message for `store`.
pub fn decode(topic: &str, payload: &[u8], store: &str) -> Result<Batch, DecodeError> {
    let plate = parse_topic(topic, store)?;
    let parsed: Payload = serde_json::from_slice(payload).map_err(|e| DecodeError::MalformedJson(e.to_string()))?;
    if parsed.samples.is_empty() {
        return Err(DecodeError::EmptyBatch);
    }
    if parsed.samples.len() > MAX_SAMPLES_PER_BATCH {
        return Err(DecodeError::TooLarge(parsed.samples.len()));
    }
    let mut samples = Vec::with_capacity(parsed.samples.len());
    let mut invalid_samples = 0;
    for (t, g) in parsed.samples {
        match (t, g) {
            (Some(t), Some(grams)) if t.is_finite() && grams.is_finite() => samples.push(Sample { t, grams }),
            _ => invalid_samples += 1,
        }
    }
    Ok(Batch { plate, samples, invalid_samples, seq: parsed.seq })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "walkout/v1/demo/plate/3/2/11";

    #[test]
    fn topics_round_trip() {
        let p = PlateId::new(3, 2, 11);
        assert_eq!(plate_topic("demo", p), TOPIC);
        assert_eq!(parse_topic(TOPIC, "demo"), Ok(p));
        assert_eq!(store_filter("demo"), "walkout/v1/demo/plate/+/+/+");
    }

    #[test]
    fn bad_topics_are_refused() {
        for t in ["walkout/v2/demo/plate/3/2/11", "walkout/v1/demo/plate/3/2", "walkout/v1/demo/plate/0/2/1", "x"] {
            assert_eq!(parse_topic(t, "demo"), Err(DecodeError::BadTopic), "{t}");
        }
        assert_eq!(parse_topic("walkout/v1/other/plate/1/1/1", "demo"), Err(DecodeError::OtherStore("other".into())));
    }

    #[test]
    fn payload_round_trips() {
        let samples = [Sample { t: 1580250245.092723, grams: 1365.75 }, Sample { t: 1580250245.10939, grams: 1365.0 }];
        let json = Payload::from_samples(&samples, 7).to_json();
        let batch = decode(TOPIC, &json, "demo").unwrap();
        assert_eq!(batch.samples, samples);
        assert_eq!((batch.seq, batch.invalid_samples), (Some(7), 0));
    }

    #[test]
    fn invalid_samples_are_counted_not_fatal() {
        let batch =
            decode(TOPIC, br#"{"samples": [[1.0, null], [null, 2.0], [2.0, 5.5]], "extra": true}"#, "demo").unwrap();
        assert_eq!(batch.samples, vec![Sample { t: 2.0, grams: 5.5 }]);
        assert_eq!(batch.invalid_samples, 2);
    }

    #[test]
    fn malformed_payloads_are_refused_with_a_cause() {
        let cases: [(&[u8], &str); 5] = [
            (b"not json", "malformed_json"),
            (br#"{"samples": [[1.0, NaN]]}"#, "malformed_json"),
            (br#"{"samples": "x"}"#, "malformed_json"),
            (br#"{"samples": []}"#, "empty_batch"),
            (br#"{"samples": [[1.0, 1e999]]}"#, "malformed_json"),
        ];
        for (payload, cause) in cases {
            let err = decode(TOPIC, payload, "demo").unwrap_err();
            assert_eq!(err.cause(), cause, "{}", String::from_utf8_lossy(payload));
        }
        let big = Payload { samples: vec![(Some(1.0), Some(1.0)); MAX_SAMPLES_PER_BATCH + 1], seq: None };
        assert_eq!(decode(TOPIC, &big.to_json(), "demo").unwrap_err().cause(), "too_large");
    }
}
