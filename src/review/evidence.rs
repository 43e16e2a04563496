//! Evidence of flagged visits: camera crops around the hand (JPEG), the
//! plate's weight trace around the event (JSON samples, drawn as an SVG
//! chart on the case page) and the shelf's candidate products. Files live
//! under `review.evidence_dir`, one folder per visit, with a row each in the
//! database. Only a visit that is still open or waiting for review can get
//! evidence (a settled one never does); [`super::retention`] deletes it
//! after the retention period, and deletes what a visit that ended up
//! settled without review kept.

use super::ring::EvidenceBuffers;
use super::snapshot::{PixelBox, crop_snapshot, encode_jpeg};
use crate::db::{DbError, Evidence, Millis, Storage, VisitStatus};
use crate::ids::{CameraId, PlateId, Sku, VisitId};
use crate::payments::Clock;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("visit {0} not found")]
    UnknownVisit(VisitId),
    #[error("visit {visit} is {status}: evidence is kept only for visits open or in review")]
    NotFlagged { visit: VisitId, status: &'static str },
    #[error("the hand box lies outside the frame")]
    OutsideFrame,
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("evidence path {0:?} is not inside the evidence folder")]
    BadPath(String),
    #[error("encoding: {0}")]
    Encode(String),
    #[error(transparent)]
    Storage(#[from] DbError),
}

/// A product the shelf proposed for an event, with its probability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub sku: Sku,
    pub name: String,
    pub qty: u32,
    pub p: f64,
}

/// A weight trace as kept: the plate, the event time and the readings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightTrace {
    pub plate: String,
    pub at: Millis,
    /// `(unix ms, grams)`, in time order.
    pub samples: Vec<(Millis, f64)>,
}

/// One camera's view of an event: the hand's box and the track's box, in its pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub camera: CameraId,
    pub hand: PixelBox,
    pub track: Option<PixelBox>,
}

/// What the live pipeline knows of a flagged event, to keep its evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct FlaggedEvent {
    pub visit: VisitId,
    /// The cart event's id (as written to the ledger).
    pub event_id: String,
    pub at: Millis,
    /// Each camera that saw the hand.
    pub views: Vec<View>,
    pub plates: Vec<PlateId>,
    pub candidates: Vec<Candidate>,
}

/// How far around an event a weight trace reaches, and how close a frame must be.
pub const TRACE_BEFORE_MS: Millis = 3_000;
pub const TRACE_AFTER_MS: Millis = 3_000;
pub const FRAME_TOLERANCE_MS: Millis = 250;

/// A file name part made only of `[A-Za-z0-9_-]` (anything else becomes `_`).
pub fn safe_component(s: &str) -> String {
    let cleaned: String = s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    if cleaned.is_empty() { "_".into() } else { cleaned }
}

/// `relative` under `root`, refusing absolute paths and `..`.
pub fn resolve(root: &Path, relative: &str) -> Result<PathBuf, EvidenceError> {
    let rel = Path::new(relative);
    let plain = rel.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    if relative.is_empty() || !plain {
        return Err(EvidenceError::BadPath(relative.to_owned()));
    }
    Ok(root.join(rel))
}

/// What a file documents.
struct About<'a> {
    visit: &'a VisitId,
    event_id: &'a str,
    kind: &'a str,
    source: &'a str,
    at: Millis,
}

pub struct EvidenceStore {
    root: PathBuf,
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
}

impl EvidenceStore {
    pub fn new(root: impl Into<PathBuf>, storage: Arc<dyn Storage>, clock: Arc<dyn Clock>) -> Self {
        Self { root: root.into(), storage, clock }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(super) fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    pub(super) fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    async fn check_flagged(&self, visit: &VisitId) -> Result<(), EvidenceError> {
        let v = self.storage.get_visit(visit).await?.ok_or_else(|| EvidenceError::UnknownVisit(visit.clone()))?;
        match v.status {
            VisitStatus::Entered | VisitStatus::Shopping | VisitStatus::Exited | VisitStatus::Review => Ok(()),
            other => Err(EvidenceError::NotFlagged { visit: visit.clone(), status: other.as_str() }),
        }
    }

    async fn write(&self, about: About<'_>, ext: &str, bytes: Vec<u8>) -> Result<Evidence, EvidenceError> {
        let About { visit, event_id, kind, source, at } = about;
        let id = uuid::Uuid::new_v4().to_string();
        let path = format!("{}/{}-{}.{ext}", safe_component(visit.as_str()), safe_component(kind), id);
        let full = resolve(&self.root, &path)?;
        if let Some(dir) = full.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|source| EvidenceError::Io { path: dir.to_owned(), source })?;
        }
        tokio::fs::write(&full, bytes).await.map_err(|source| EvidenceError::Io { path: full.clone(), source })?;
        let row = Evidence {
            id,
            visit_id: visit.clone(),
            event_id: event_id.to_owned(),
            kind: kind.to_owned(),
            source: source.to_owned(),
            path,
            at,
            created_at: self.clock.now_ms(),
        };
        if let Err(e) = self.storage.add_evidence(&row).await {
            let _ = tokio::fs::remove_file(&full).await; // no file without its row
            return Err(e.into());
        }
        Ok(row)
    }

    /// Keeps a crop of `frame` (taken at `at`) around the view's hand, the track's box drawn too.
    pub async fn keep_snapshot(
        &self,
        visit: &VisitId,
        event_id: &str,
        at: Millis,
        frame: &image::RgbImage,
        view: &View,
    ) -> Result<Evidence, EvidenceError> {
        self.check_flagged(visit).await?;
        let crop = crop_snapshot(frame, view.hand, view.track).ok_or(EvidenceError::OutsideFrame)?;
        let jpeg = tokio::task::spawn_blocking(move || encode_jpeg(&crop, 85))
            .await
            .map_err(|e| EvidenceError::Encode(e.to_string()))?
            .map_err(|e| EvidenceError::Encode(e.to_string()))?;
        let about = About { visit, event_id, kind: "snapshot", source: view.camera.as_str(), at };
        self.write(about, "jpg", jpeg).await
    }

    /// Keeps a plate's readings around an event.
    pub async fn keep_weight_trace(
        &self,
        visit: &VisitId,
        event_id: &str,
        plate: &PlateId,
        at: Millis,
        samples: &[(Millis, f64)],
    ) -> Result<Evidence, EvidenceError> {
        self.check_flagged(visit).await?;
        let trace = WeightTrace { plate: plate.to_string(), at, samples: samples.to_vec() };
        let json = serde_json::to_vec(&trace).map_err(|e| EvidenceError::Encode(e.to_string()))?;
        let source = plate.to_string();
        self.write(About { visit, event_id, kind: "weight_trace", source: &source, at }, "json", json).await
    }

    /// Keeps the products the shelf proposed for an event.
    pub async fn keep_candidates(
        &self,
        visit: &VisitId,
        event_id: &str,
        at: Millis,
        candidates: &[Candidate],
    ) -> Result<Evidence, EvidenceError> {
        self.check_flagged(visit).await?;
        let json = serde_json::to_vec(candidates).map_err(|e| EvidenceError::Encode(e.to_string()))?;
        self.write(About { visit, event_id, kind: "candidates", source: "shelf", at }, "json", json).await
    }

    /// Everything the buffers still hold about a flagged event: a crop per
    /// camera that saw the hand near the time, a trace per plate, and the
    /// candidates. A camera without a frame near the time is skipped.
    pub async fn keep_flagged_event(
        &self,
        buffers: &EvidenceBuffers,
        e: &FlaggedEvent,
    ) -> Result<Vec<Evidence>, EvidenceError> {
        let mut kept = Vec::new();
        for view in &e.views {
            let Some((t, frame)) = buffers.frame_near(&view.camera, e.at, FRAME_TOLERANCE_MS) else { continue };
            match self.keep_snapshot(&e.visit, &e.event_id, t, &frame, view).await {
                Ok(row) => kept.push(row),
                Err(EvidenceError::OutsideFrame) => continue,
                Err(other) => return Err(other),
            }
        }
        for plate in &e.plates {
            let samples = buffers.trace(plate, e.at - TRACE_BEFORE_MS, e.at + TRACE_AFTER_MS);
            if !samples.is_empty() {
                kept.push(self.keep_weight_trace(&e.visit, &e.event_id, plate, e.at, &samples).await?);
            }
        }
        if !e.candidates.is_empty() {
            kept.push(self.keep_candidates(&e.visit, &e.event_id, e.at, &e.candidates).await?);
        }
        Ok(kept)
    }

    /// The stored file of a piece of evidence.
    pub async fn read(&self, e: &Evidence) -> Result<Vec<u8>, EvidenceError> {
        let path = resolve(&self.root, &e.path)?;
        tokio::fs::read(&path).await.map_err(|source| EvidenceError::Io { path, source })
    }

    /// A kept weight trace, parsed.
    pub async fn weight_trace(&self, e: &Evidence) -> Result<WeightTrace, EvidenceError> {
        serde_json::from_slice(&self.read(e).await?).map_err(|err| EvidenceError::Encode(err.to_string()))
    }

    /// Kept candidates, parsed.
    pub async fn candidates(&self, e: &Evidence) -> Result<Vec<Candidate>, EvidenceError> {
        serde_json::from_slice(&self.read(e).await?).map_err(|err| EvidenceError::Encode(err.to_string()))
    }

    /// Deletes the file, then the row (a missing file is not an error).
    pub(super) async fn delete(&self, e: &Evidence) -> Result<bool, EvidenceError> {
        let path = resolve(&self.root, &e.path)?;
        let existed = match tokio::fs::remove_file(&path).await {
            Ok(()) => true,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => false,
            Err(source) => return Err(EvidenceError::Io { path, source }),
        };
        self.storage.delete_evidence(&e.id).await?;
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_evidence_folder() {
        let root = Path::new("/data/evidence");
        assert_eq!(resolve(root, "v-1/snapshot-x.jpg").unwrap(), root.join("v-1/snapshot-x.jpg"));
        for bad in ["../etc/passwd", "/etc/passwd", "v/../../x", "", "./x"] {
            assert!(matches!(resolve(root, bad), Err(EvidenceError::BadPath(_))), "{bad}");
        }
        assert_eq!(safe_component("visit/../1 é"), "visit____1__");
        assert_eq!(safe_component(""), "_");
    }
}
