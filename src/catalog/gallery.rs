//! The product gallery: embeddings of product photos, by SKU, made with one
//! embedding model, and nearest-neighbour matching of a hand crop's
//! embedding against them (cosine, best photo per product). Stored as JSON
//! (`gallery.json` beside the catalogue); each embedding is quantised to
//! signed bytes with its own scale, base64-encoded, which keeps a
//! 250-product gallery around a megabyte and changes cosines by < 0.005.
//! Matching centres every embedding on the gallery's mean first ([`GalleryIndex`]).
//! `walkout gallery add` appends photos; `walkout gallery demo` renders the
//! simulator's products and builds the demo store's gallery.

use super::crop_rates::CropRates;
use crate::ids::Sku;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How many products a match list names (best first).
pub const TOP_K: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    #[error("cannot read gallery {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write gallery {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("gallery {path} is not valid JSON: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("gallery entry {index} ({sku}): {reason}")]
    BadEntry { index: usize, sku: Sku, reason: String },
    #[error("embedding has {got} values; this gallery's model ({model}) gives {want}")]
    Dimension { model: String, want: usize, got: usize },
    #[error("this gallery was made with model {have}; {want} cannot add to it or match against it")]
    OtherModel { have: String, want: String },
    #[error("embedding has a non-finite or all-zero value")]
    BadEmbedding,
}

/// One product photo's embedding (unit length).
#[derive(Clone, Debug, PartialEq)]
pub struct GalleryEntry {
    pub sku: Sku,
    /// Where it came from (a photo's file name, `demo:view0`).
    pub source: String,
    pub embedding: Vec<f32>,
}

/// A product and how alike (cosine, -1..1) its best photo is to a crop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemMatch {
    pub sku: Sku,
    pub score: f32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Gallery {
    /// The embedding model's name and file checksum (from its manifest).
    pub model: String,
    pub model_sha256: String,
    pub dim: usize,
    pub entries: Vec<GalleryEntry>,
    /// How hand crops read against this gallery, when someone measured it.
    pub rates: Option<CropRates>,
}

#[derive(Serialize, Deserialize)]
struct EntryFile {
    sku: Sku,
    source: String,
    /// Quantised values are `q[i] * scale`.
    scale: f32,
    /// base64 of `dim` signed bytes.
    q: String,
}

#[derive(Serialize, Deserialize)]
struct GalleryFile {
    model: String,
    model_sha256: String,
    dim: usize,
    entries: Vec<EntryFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rates: Option<CropRates>,
}

fn unit(v: &[f32]) -> Result<Vec<f32>, GalleryError> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !v.iter().all(|x| x.is_finite()) || norm <= f32::EPSILON {
        return Err(GalleryError::BadEmbedding);
    }
    Ok(v.iter().map(|x| x / norm).collect())
}

/// Photos centred on the gallery mean, unit length, for matching.
#[derive(Clone, Debug, PartialEq)]
pub struct GalleryIndex {
    dim: usize,
    mean: Vec<f32>,
    centred: Vec<(Sku, Vec<f32>)>,
}

/// `v - mean`, unit length; None when that is (nearly) zero or not finite.
fn centre(v: &[f32], mean: &[f32]) -> Option<Vec<f32>> {
    let d: Vec<f32> = v.iter().zip(mean).map(|(a, b)| a - b).collect();
    unit(&d).ok()
}

impl GalleryIndex {
    /// The `k` products most like `embedding`, best first (one score per
    /// product: its most alike photo, cosine after centring). Empty for a
    /// bad embedding or one of another dimension.
    pub fn best(&self, embedding: &[f32], k: usize) -> Vec<ItemMatch> {
        if embedding.len() != self.dim {
            return Vec::new();
        }
        let Some(e) = unit(embedding).ok().and_then(|e| centre(&e, &self.mean)) else { return Vec::new() };
        let mut per_sku: std::collections::BTreeMap<&Sku, f32> = std::collections::BTreeMap::new();
        for (sku, photo) in &self.centred {
            let cos: f32 = photo.iter().zip(&e).map(|(a, b)| a * b).sum();
            let best = per_sku.entry(sku).or_insert(f32::NEG_INFINITY);
            *best = best.max(cos);
        }
        let mut out: Vec<ItemMatch> =
            per_sku.into_iter().map(|(sku, score)| ItemMatch { sku: sku.clone(), score }).collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.sku.cmp(&b.sku)));
        out.truncate(k);
        out
    }
}

impl Gallery {
    pub fn new(model: &str, model_sha256: &str, dim: usize) -> Self {
        Gallery { model: model.into(), model_sha256: model_sha256.into(), dim, entries: Vec::new(), rates: None }
    }

    /// The model's name and file checksum, as one string.
    pub fn model_id(&self) -> String {
        format!("{} ({})", self.model, self.model_sha256)
    }

    /// Refuses an embedding from another model (name or file).
    pub fn check_model(&self, model: &str, sha256: &str) -> Result<(), GalleryError> {
        if self.model != model || !self.model_sha256.eq_ignore_ascii_case(sha256) {
            return Err(GalleryError::OtherModel {
                have: format!("{} ({})", self.model, self.model_sha256),
                want: format!("{model} ({sha256})"),
            });
        }
        Ok(())
    }

    /// Adds a photo's embedding (normalised here).
    pub fn add(&mut self, sku: Sku, source: &str, embedding: &[f32]) -> Result<(), GalleryError> {
        if embedding.len() != self.dim {
            return Err(GalleryError::Dimension { model: self.model.clone(), want: self.dim, got: embedding.len() });
        }
        self.entries.push(GalleryEntry { sku, source: source.into(), embedding: unit(embedding)? });
        Ok(())
    }

    /// The matching index: every photo centred on the gallery's mean
    /// embedding. Generic embeddings of product pictures share a large
    /// common part (a package on a background); taking it away leaves what
    /// tells products apart (with 251 demo products, top-1 accuracy on
    /// rendered hand crops rose from 7 % to the figure in `docs/fusion.md`).
    pub fn index(&self) -> GalleryIndex {
        let mut mean = vec![0.0f32; self.dim];
        for e in &self.entries {
            mean.iter_mut().zip(&e.embedding).for_each(|(m, v)| *m += v / self.entries.len() as f32);
        }
        let centred = self.entries.iter().filter_map(|e| Some((e.sku.clone(), centre(&e.embedding, &mean)?))).collect();
        GalleryIndex { dim: self.dim, mean, centred }
    }

    pub fn products(&self) -> std::collections::BTreeSet<&Sku> {
        self.entries.iter().map(|e| &e.sku).collect()
    }

    pub fn load(path: &Path) -> Result<Self, GalleryError> {
        let text = std::fs::read_to_string(path).map_err(|source| GalleryError::Read { path: path.into(), source })?;
        let file: GalleryFile = serde_json::from_str(&text)
            .map_err(|e| GalleryError::Parse { path: path.into(), reason: e.to_string() })?;
        let mut gallery = Gallery::new(&file.model, &file.model_sha256, file.dim);
        gallery.rates = file.rates.map(CropRates::derive);
        for (index, entry) in file.entries.into_iter().enumerate() {
            let bad = |reason: String| GalleryError::BadEntry { index, sku: entry.sku.clone(), reason };
            let bytes = STANDARD.decode(&entry.q).map_err(|e| bad(format!("embedding is not base64: {e}")))?;
            if !entry.scale.is_finite() || entry.scale <= 0.0 {
                return Err(bad("scale is not a positive number".into()));
            }
            let values: Vec<f32> = bytes.iter().map(|&b| f32::from(b as i8) * entry.scale).collect();
            gallery.add(entry.sku.clone(), &entry.source, &values).map_err(|e| bad(e.to_string()))?;
        }
        Ok(gallery)
    }

    pub fn save(&self, path: &Path) -> Result<(), GalleryError> {
        let entries = self
            .entries
            .iter()
            .map(|e| {
                let peak = e.embedding.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(f32::EPSILON);
                let scale = peak / 127.0;
                let q: Vec<u8> =
                    e.embedding.iter().map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8 as u8).collect();
                EntryFile { sku: e.sku.clone(), source: e.source.clone(), scale, q: STANDARD.encode(q) }
            })
            .collect();
        let file = GalleryFile {
            model: self.model.clone(),
            model_sha256: self.model_sha256.clone(),
            dim: self.dim,
            entries,
            rates: self.rates.clone(),
        };
        let text = serde_json::to_string(&file)
            .map_err(|e| GalleryError::Parse { path: path.into(), reason: e.to_string() })?;
        std::fs::write(path, text).map_err(|source| GalleryError::Write { path: path.into(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gallery() -> Gallery {
        let mut g = Gallery::new("toy", "abc", 3);
        g.add(Sku::from("A"), "a0", &[1.0, 0.0, 0.0]).unwrap();
        g.add(Sku::from("A"), "a1", &[0.0, 0.0, 2.0]).unwrap();
        g.add(Sku::from("B"), "b0", &[0.0, 1.0, 0.0]).unwrap();
        g
    }

    #[test]
    fn a_crop_matches_each_product_by_its_most_alike_photo_after_centring() {
        let index = gallery().index();
        // The mean of the three photos is (1/3, 1/3, 1/3).
        let m = index.best(&[0.0, 0.0, 1.0], 5);
        assert_eq!(m.iter().map(|m| m.sku.as_str()).collect::<Vec<_>>(), ["A", "B"]);
        assert!((m[0].score - 1.0).abs() < 1e-5, "A's second photo, not its first: {}", m[0].score);
        assert!((m[1].score + 0.5).abs() < 1e-5, "{}", m[1].score);
        assert_eq!(index.best(&[0.1, 0.3, 0.9], 1).len(), 1);
        assert!(index.best(&[0.0, 0.0, 0.0], 5).is_empty(), "a zero embedding matches nothing");
        assert!(index.best(&[1.0, 0.0], 5).is_empty(), "another dimension matches nothing");
    }

    #[test]
    fn bad_embeddings_and_other_models_are_refused() {
        let mut g = gallery();
        assert!(matches!(g.add(Sku::from("C"), "c", &[1.0, 2.0]), Err(GalleryError::Dimension { .. })));
        assert!(matches!(g.add(Sku::from("C"), "c", &[f32::NAN, 0.0, 1.0]), Err(GalleryError::BadEmbedding)));
        assert!(matches!(g.add(Sku::from("C"), "c", &[0.0; 3]), Err(GalleryError::BadEmbedding)));
        assert!(g.check_model("toy", "ABC").is_ok());
        assert!(g.check_model("toy", "abd").unwrap_err().to_string().contains("made with model toy"));
    }

    #[test]
    fn the_file_round_trips_within_quantisation_and_broken_files_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gallery.json");
        let mut g = gallery();
        g.add(Sku::from("B"), "b1", &[0.3, -0.5, 0.81]).unwrap();
        g.rates = Some(CropRates::measure(&[(Some(Sku::from("A")), Some(Sku::from("A")))], 2));
        g.save(&path).unwrap();
        let back = Gallery::load(&path).unwrap();
        assert_eq!(back.rates, g.rates);
        assert_eq!((back.model.as_str(), back.dim, back.entries.len()), ("toy", 3, 4));
        for (a, b) in g.entries.iter().zip(&back.entries) {
            assert_eq!((&a.sku, &a.source), (&b.sku, &b.source));
            let cos: f32 = a.embedding.iter().zip(&b.embedding).map(|(x, y)| x * y).sum();
            assert!(cos > 0.999, "{cos}");
        }
        std::fs::write(&path, "{\"model\":\"toy\"").unwrap();
        assert!(Gallery::load(&path).unwrap_err().to_string().contains("not valid JSON"));
        let text = r#"{"model":"toy","model_sha256":"abc","dim":3,"entries":[{"sku":"A","source":"x","scale":0.01,"q":"%%"}]}"#;
        std::fs::write(&path, text).unwrap();
        assert!(Gallery::load(&path).unwrap_err().to_string().contains("entry 0 (A): embedding is not base64"));
        let missing = Gallery::load(&dir.path().join("none.json")).unwrap_err();
        assert!(missing.to_string().contains("cannot read gallery"));
    }
}
