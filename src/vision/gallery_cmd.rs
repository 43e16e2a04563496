//! `walkout gallery ...`: building a store's product gallery. `add` embeds
//! product photos (PNG or JPEG files) with the product-embedding model and
//! appends them under a SKU of the catalogue; `demo` renders every demo
//! product's catalogue photos with the simulator's looks and builds the demo
//! store's gallery, plus the bank of hand-crop matches the simulator draws
//! from (`hand-crops.json`), all through the real model.

use super::decode::BoxPx;
use super::model::{self, Model, ModelError};
use crate::catalog::crop_rates::CropRates;
use crate::catalog::gallery::{Gallery, GalleryError, GalleryIndex, TOP_K};
use crate::catalog::{Catalog, CatalogError};
use crate::ids::Sku;
use crate::sim::crops::{CropBank, CropBankError};
use crate::sim::looks::{Look, hand_crop, photo};
use image::RgbImage;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum GalleryCmdError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Gallery(#[from] GalleryError),
    #[error(transparent)]
    Bank(#[from] CropBankError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("SKU {0} is not in the catalogue")]
    UnknownSku(Sku),
    #[error("cannot read image {path}: {reason}")]
    Image { path: PathBuf, reason: String },
    #[error("no images given")]
    NoImages,
    #[error("model {0} is not an embedding model (its manifest's decoder is not `embedding`)")]
    NotEmbedding(String),
}

/// The product-embedding model and where the runtime is.
pub struct Embedder {
    model: Model,
}

impl Embedder {
    pub fn load(manifest: &Path, onnxruntime: &str) -> Result<Self, GalleryCmdError> {
        let env = model::environment(onnxruntime)?;
        Ok(Embedder { model: Model::load(manifest, env)? })
    }

    fn name_and_sha(&self) -> (String, String, usize) {
        let m = self.model.manifest();
        let dim = match &m.decoder {
            super::manifest::DecoderSpec::Embedding { dim } => *dim,
            _ => 0,
        };
        (m.name.clone(), m.sha256.clone(), dim)
    }

    /// The whole picture's embedding.
    pub fn embed(&mut self, image: &RgbImage) -> Result<Vec<f32>, GalleryCmdError> {
        let all = BoxPx { x0: 0.0, y0: 0.0, x1: image.width() as f32, y1: image.height() as f32 };
        Ok(self.model.embed_region(image, all)?)
    }

    /// An empty gallery for this model (refused when it is not an embedding model).
    fn new_gallery(&self) -> Result<Gallery, GalleryCmdError> {
        let (name, sha, dim) = self.name_and_sha();
        if dim == 0 {
            return Err(GalleryCmdError::NotEmbedding(name));
        }
        Ok(Gallery::new(&name, &sha, dim))
    }

    /// The gallery at `path` (refused when made by another model), or a new one.
    fn gallery_at(&self, path: &Path) -> Result<Gallery, GalleryCmdError> {
        let fresh = self.new_gallery()?;
        if !path.exists() {
            return Ok(fresh);
        }
        let gallery = Gallery::load(path)?;
        gallery.check_model(&fresh.model, &fresh.model_sha256)?;
        Ok(gallery)
    }
}

#[derive(Debug, Serialize)]
pub struct AddReport {
    pub gallery: PathBuf,
    pub sku: Sku,
    pub added: usize,
    pub entries: usize,
    pub products: usize,
}

/// Embeds `images` as photos of `sku` and appends them to the gallery at
/// `gallery_path` (created when missing).
pub fn add(
    embedder: &mut Embedder,
    catalog: &Catalog,
    gallery_path: &Path,
    sku: &Sku,
    images: &[PathBuf],
) -> Result<AddReport, GalleryCmdError> {
    if !catalog.products.contains_key(sku) {
        return Err(GalleryCmdError::UnknownSku(sku.clone()));
    }
    if images.is_empty() {
        return Err(GalleryCmdError::NoImages);
    }
    let mut gallery = embedder.gallery_at(gallery_path)?;
    for path in images {
        let image = image::open(path)
            .map_err(|e| GalleryCmdError::Image { path: path.clone(), reason: e.to_string() })?
            .to_rgb8();
        let embedding = embedder.embed(&image)?;
        let source = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        gallery.add(sku.clone(), &source, &embedding)?;
    }
    gallery.save(gallery_path)?;
    Ok(AddReport {
        gallery: gallery_path.into(),
        sku: sku.clone(),
        added: images.len(),
        entries: gallery.entries.len(),
        products: gallery.products().len(),
    })
}

/// Catalogue photos per product in the demo gallery, and photos of it in a hand.
pub const DEMO_VIEWS: u32 = 2;
pub const IN_HAND_VIEWS: u32 = 2;

#[derive(Debug, Serialize)]
pub struct DemoReport {
    pub gallery: PathBuf,
    pub bank: PathBuf,
    pub products: usize,
    pub photos: usize,
    pub held_crops: usize,
    pub empty_crops: usize,
    /// On other crops than the bank's: the share of held crops whose best
    /// match is the product held, and whose product is among the best `TOP_K`.
    pub held_top1: f64,
    pub held_top_k: f64,
    /// Of empty-hand crops, the largest share that names one product first.
    pub empty_top1_max: f64,
}

/// Renders and embeds the demo gallery and the simulator's crop bank into `out`.
pub fn demo(
    embedder: &mut Embedder,
    catalog: &Catalog,
    out: &Path,
    crops_per_product: usize,
    empty_crops: usize,
    samples: Option<&Path>,
) -> Result<DemoReport, GalleryCmdError> {
    let mut gallery = embedder.new_gallery()?;
    // The in-hand photos come from their own stream, apart from the bank's crops.
    let mut photographer = Xoshiro256PlusPlus::seed_from_u64(1);
    for (sku, product) in &catalog.products {
        let look = Look::of(product);
        for view in 0..DEMO_VIEWS {
            let embedding = embedder.embed(&photo(&look, view))?;
            gallery.add(sku.clone(), &format!("demo:view{view}"), &embedding)?;
        }
        for k in 0..IN_HAND_VIEWS {
            let embedding = embedder.embed(&hand_crop(Some(&look), &mut photographer))?;
            gallery.add(sku.clone(), &format!("demo:in-hand{k}"), &embedding)?;
        }
    }
    let index = gallery.index();
    let mut bank = render_bank(embedder, catalog, &index, (crops_per_product, empty_crops), 2026, samples)?;
    bank.gallery_model = gallery.model_id();
    // Match rates are measured on other crops than the bank the simulator draws from.
    let check = render_bank(embedder, catalog, &index, (crops_per_product, empty_crops), 7, None)?;
    let truth: Vec<(Option<Sku>, Option<Sku>)> = check
        .held
        .iter()
        .flat_map(|(sku, crops)| crops.iter().map(move |c| (Some(sku.clone()), c.first().map(|m| m.sku.clone()))))
        .chain(check.empty.iter().map(|c| (None, c.first().map(|m| m.sku.clone()))))
        .collect();
    let held: Vec<&(Option<Sku>, Option<Sku>)> = truth.iter().filter(|c| c.0.is_some()).collect();
    let top1 = held.iter().filter(|c| c.0 == c.1).count();
    let top_k = check
        .held
        .iter()
        .map(|(sku, crops)| crops.iter().filter(|c| c.iter().any(|m| &m.sku == sku)).count())
        .sum::<usize>();
    gallery.rates = Some(CropRates::measure(&truth, catalog.products.len()));
    std::fs::create_dir_all(out).map_err(|e| GalleryError::Write { path: out.into(), source: e })?;
    let (gallery_path, bank_path) = (out.join("gallery.json"), out.join("hand-crops.json"));
    gallery.save(&gallery_path)?;
    bank.save(&bank_path)?;
    let share = |n: usize| if held.is_empty() { 0.0 } else { n as f64 / held.len() as f64 };
    Ok(DemoReport {
        gallery: gallery_path,
        bank: bank_path,
        products: catalog.products.len(),
        photos: gallery.entries.len(),
        held_crops: bank.held.values().map(Vec::len).sum(),
        empty_crops: bank.empty.len(),
        held_top1: share(top1),
        held_top_k: share(top_k),
        empty_top1_max: empty_lure(&check),
    })
}

/// Writes one rendered picture for a person to look at.
fn write_sample(dir: &Path, name: &str, image: &RgbImage) -> Result<(), GalleryCmdError> {
    let path = dir.join(name);
    std::fs::create_dir_all(dir)
        .and_then(|()| image.save(&path).map_err(std::io::Error::other))
        .map_err(|e| GalleryError::Write { path, source: e }.into())
}

/// Renders and matches `(per_product, empty)` hand crops from `seed`.
fn render_bank(
    embedder: &mut Embedder,
    catalog: &Catalog,
    index: &GalleryIndex,
    (per_product, empty): (usize, usize),
    seed: u64,
    samples: Option<&Path>,
) -> Result<CropBank, GalleryCmdError> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut bank = CropBank::default();
    for (sku, product) in &catalog.products {
        let look = Look::of(product);
        let mut crops = Vec::with_capacity(per_product);
        for k in 0..per_product {
            let crop = hand_crop(Some(&look), &mut rng);
            if let Some(dir) = samples.filter(|_| bank.held.len() < 6 && k < 3) {
                write_sample(dir, &format!("{sku}-crop{k}.png"), &crop)?;
                write_sample(dir, &format!("{sku}-photo.png"), &photo(&look, 0))?;
            }
            crops.push(index.best(&embedder.embed(&crop)?, TOP_K));
        }
        bank.held.insert(sku.clone(), crops);
    }
    for k in 0..empty {
        let crop = hand_crop(None, &mut rng);
        if let Some(dir) = samples.filter(|_| k < 3) {
            write_sample(dir, &format!("empty-crop{k}.png"), &crop)?;
        }
        bank.empty.push(index.best(&embedder.embed(&crop)?, TOP_K));
    }
    Ok(bank)
}

/// The largest share of empty-hand crops that one product attracts.
fn empty_lure(bank: &CropBank) -> f64 {
    let mut counts: std::collections::BTreeMap<&Sku, usize> = std::collections::BTreeMap::new();
    for top in bank.empty.iter().filter_map(|c| c.first()) {
        *counts.entry(&top.sku).or_insert(0) += 1;
    }
    counts.values().max().map_or(0.0, |&n| n as f64 / bank.empty.len().max(1) as f64)
}
