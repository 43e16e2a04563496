//! The catalogue and planogram of a store, loaded from the project's own
//! files under `calibration/<store>/`:
//!
//! - `store.toml`: id, name, address, VAT number, currency, tax mode;
//! - `products.csv`: `sku,name,unit_weight_g,weight_tolerance_g,price,tax_class,age_restricted`
//!   (price in the store's currency as a decimal string, e.g. `2.49`);
//! - `planogram.csv`: `gondola,shelf,plate,sku`, one row per product facing;
//! - `pricing.toml` (optional): tax table, promotions and loyalty
//!   ([`crate::checkout::PricingRules`]); without it prices carry no tax
//!   classes the store could charge, so checkout refuses.
//!
//! Loading validates everything and names the file, line and field at fault.

pub mod crop_rates;
pub mod gallery;

use crate::db::{DbError, Facing, Product, Storage, Store};
use crate::ids::{PlateId, Sku, StoreId};
use crate::money::{Currency, Money};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// `store.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreFile {
    pub id: StoreId,
    pub name: String,
    pub address: String,
    pub vat_number: String,
    pub currency: String,
    pub tax_mode: String,
    pub timezone: String,
}

#[derive(Debug, Deserialize)]
struct ProductRow {
    sku: String,
    name: String,
    unit_weight_g: f64,
    weight_tolerance_g: f64,
    price: String,
    tax_class: String,
    age_restricted: bool,
}

#[derive(Debug, Deserialize)]
struct FacingRow {
    gondola: u16,
    shelf: u16,
    plate: u16,
    sku: String,
}

/// A store's catalogue as loaded and checked.
#[derive(Clone, Debug)]
pub struct Catalog {
    pub store: StoreFile,
    pub currency: Currency,
    pub products: BTreeMap<Sku, Product>,
    /// Plate -> the products facing on it.
    pub planogram: BTreeMap<PlateId, Vec<Sku>>,
    /// Tax, promotions and loyalty, when the store has a `pricing.toml`.
    pub pricing: Option<crate::checkout::PricingRules>,
}

impl Catalog {
    /// Loads `store.toml`, `products.csv` and `planogram.csv` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, CatalogError> {
        let store_path = dir.join("store.toml");
        let text = read(&store_path)?;
        let store: StoreFile = toml::from_str(&text).map_err(|e| invalid(&store_path, e.to_string()))?;
        let currency: Currency = store.currency.parse().map_err(|e| invalid(&store_path, format!("currency: {e}")))?;
        if !matches!(store.tax_mode.as_str(), "inclusive" | "exclusive") {
            return Err(invalid(&store_path, "tax_mode must be `inclusive` or `exclusive`".into()));
        }
        let products = load_products(&dir.join("products.csv"), &store.id, currency)?;
        let planogram = load_planogram(&dir.join("planogram.csv"), &products)?;
        let pricing = load_pricing(&dir.join("pricing.toml"), currency, &store.tax_mode, &products)?;
        Ok(Self { store, currency, products, planogram, pricing })
    }

    /// The store row as stored.
    pub fn store_record(&self, created_at: i64) -> Store {
        Store {
            id: self.store.id.clone(),
            name: self.store.name.clone(),
            address: self.store.address.clone(),
            vat_number: self.store.vat_number.clone(),
            currency: self.currency.code().to_owned(),
            tax_mode: self.store.tax_mode.clone(),
            created_at,
        }
    }

    /// Every facing as stored rows.
    pub fn facings(&self) -> Vec<Facing> {
        self.planogram
            .iter()
            .flat_map(|(plate, skus)| {
                skus.iter().map(move |sku| Facing {
                    store_id: self.store.id.clone(),
                    plate_id: plate.to_string(),
                    sku: sku.clone(),
                })
            })
            .collect()
    }

    /// Writes the store, its products and its planogram into storage
    /// (idempotent: products are upserted, the planogram replaced).
    pub async fn install(&self, storage: &dyn Storage, now_ms: i64) -> Result<(), DbError> {
        let existing = storage.get_store(&self.store.id).await?;
        let created_at = existing.map(|s| s.created_at).unwrap_or(now_ms);
        storage.upsert_store(&self.store_record(created_at)).await?;
        for product in self.products.values() {
            storage.upsert_product(product).await?;
        }
        storage.replace_facings(&self.store.id, &self.facings()).await
    }

    /// What the shelf pipeline needs: unit weights, their spread, and facings.
    pub fn shelf_catalog(&self) -> crate::shelf::inference::ShelfCatalog {
        use crate::shelf::inference::{ProductWeight, ShelfCatalog};
        let products = self
            .products
            .values()
            .map(|p| {
                let weight = ProductWeight {
                    sku: p.sku.clone(),
                    name: p.name.clone(),
                    unit_weight_g: p.unit_weight_g,
                    sigma_g: p.weight_tolerance_g,
                };
                (p.sku.clone(), weight)
            })
            .collect();
        ShelfCatalog { products, facings: self.planogram.clone() }
    }

    /// Products that span more than one plate.
    pub fn multi_plate_products(&self) -> usize {
        let mut plates_per_sku: BTreeMap<&Sku, usize> = BTreeMap::new();
        for skus in self.planogram.values() {
            for sku in skus {
                *plates_per_sku.entry(sku).or_default() += 1;
            }
        }
        plates_per_sku.values().filter(|n| **n > 1).count()
    }
}

/// `pricing.toml`, checked against the store: same currency and tax mode,
/// and a rate for every tax class the products use.
fn load_pricing(
    path: &Path,
    currency: Currency,
    tax_mode: &str,
    products: &BTreeMap<Sku, Product>,
) -> Result<Option<crate::checkout::PricingRules>, CatalogError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(CatalogError::Read { path: path.to_owned(), source }),
    };
    let rules: crate::checkout::PricingRules = toml::from_str(&text).map_err(|e| invalid(path, e.to_string()))?;
    rules.validate().map_err(|e| invalid(path, e.to_string()))?;
    if rules.currency != currency {
        return Err(invalid(path, format!("currency {} differs from store.toml's {currency}", rules.currency)));
    }
    let mode =
        serde_json::to_value(rules.tax_mode).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    if mode != tax_mode {
        return Err(invalid(path, format!("tax_mode {mode} differs from store.toml's {tax_mode}")));
    }
    let today = chrono::Utc::now().date_naive();
    for p in products.values() {
        rules.tax_table.rate(&p.tax_class, today).map_err(|e| invalid(path, format!("product {}: {e}", p.sku)))?;
    }
    Ok(Some(rules))
}

fn read(path: &Path) -> Result<String, CatalogError> {
    std::fs::read_to_string(path).map_err(|source| CatalogError::Read { path: path.to_owned(), source })
}

fn invalid(path: &Path, message: String) -> CatalogError {
    CatalogError::Invalid { path: path.to_owned(), message }
}

fn csv_rows<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<(u64, T)>, CatalogError> {
    let text = read(path)?;
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, row) in reader.deserialize::<T>().enumerate() {
        let line = i as u64 + 2; // 1-based, after the header
        rows.push((line, row.map_err(|e| invalid(path, format!("line {line}: {e}")))?));
    }
    Ok(rows)
}

fn load_products(path: &Path, store: &StoreId, currency: Currency) -> Result<BTreeMap<Sku, Product>, CatalogError> {
    let mut products = BTreeMap::new();
    for (line, row) in csv_rows::<ProductRow>(path)? {
        let at = |field: &str, why: String| invalid(path, format!("line {line}, {field}: {why}"));
        if row.sku.is_empty() {
            return Err(at("sku", "empty".into()));
        }
        if !(row.unit_weight_g.is_finite() && row.unit_weight_g > 0.0) {
            return Err(at("unit_weight_g", format!("must be a positive number of grams, got {}", row.unit_weight_g)));
        }
        if !(row.weight_tolerance_g.is_finite() && row.weight_tolerance_g >= 0.0) {
            return Err(at("weight_tolerance_g", format!("must be >= 0, got {}", row.weight_tolerance_g)));
        }
        let price = Money::parse(&row.price, currency).map_err(|e| at("price", e.to_string()))?;
        if price.amount.is_sign_negative() || price.amount.scale() > currency.exponent() {
            return Err(at("price", format!("{:?} is not a non-negative amount in {currency}", row.price)));
        }
        let product = Product {
            store_id: store.clone(),
            sku: Sku(row.sku.clone()),
            name: row.name,
            unit_weight_g: row.unit_weight_g,
            weight_tolerance_g: row.weight_tolerance_g,
            price_minor: price.to_minor().map_err(|e| at("price", e.to_string()))?,
            currency: currency.code().to_owned(),
            tax_class: row.tax_class,
            age_restricted: row.age_restricted,
        };
        if products.insert(product.sku.clone(), product).is_some() {
            return Err(at("sku", format!("{} appears twice", row.sku)));
        }
    }
    Ok(products)
}

fn load_planogram(path: &Path, products: &BTreeMap<Sku, Product>) -> Result<BTreeMap<PlateId, Vec<Sku>>, CatalogError> {
    let mut planogram: BTreeMap<PlateId, Vec<Sku>> = BTreeMap::new();
    let mut seen = HashSet::new();
    for (line, row) in csv_rows::<FacingRow>(path)? {
        if row.gondola == 0 || row.shelf == 0 || row.plate == 0 {
            return Err(invalid(path, format!("line {line}: gondola, shelf and plate are 1-based")));
        }
        let sku = Sku(row.sku.clone());
        if !products.contains_key(&sku) {
            return Err(invalid(path, format!("line {line}, sku: {} is not in products.csv", row.sku)));
        }
        let plate = PlateId::new(row.gondola, row.shelf, row.plate);
        if !seen.insert((plate, sku.clone())) {
            return Err(invalid(path, format!("line {line}: {} on plate {plate} listed twice", row.sku)));
        }
        planogram.entry(plate).or_default().push(sku);
    }
    Ok(planogram)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_store(dir: &Path, products: &str, planogram: &str) {
        std::fs::write(
            dir.join("store.toml"),
            "id = \"s\"\nname = \"S\"\naddress = \"A\"\nvat_number = \"V\"\ncurrency = \"EUR\"\ntax_mode = \"inclusive\"\ntimezone = \"UTC\"\n",
        )
        .unwrap();
        std::fs::write(dir.join("products.csv"), products).unwrap();
        std::fs::write(dir.join("planogram.csv"), planogram).unwrap();
    }

    const HEADER: &str = "sku,name,unit_weight_g,weight_tolerance_g,price,tax_class,age_restricted\n";

    #[test]
    fn loads_products_in_minor_units_and_the_planogram() {
        let dir = tempfile::tempdir().unwrap();
        write_store(
            dir.path(),
            &format!("{HEADER}A,Water 1.5 l,1540.0,12.0,0.49,standard,false\nB,Beer 0.5 l,530,5,1.29,standard,true\n"),
            "gondola,shelf,plate,sku\n1,1,1,A\n1,1,2,A\n1,2,1,B\n",
        );
        let c = Catalog::load(dir.path()).unwrap();
        assert_eq!(c.products[&Sku::from("A")].price_minor, 49);
        assert!(c.products[&Sku::from("B")].age_restricted);
        assert_eq!(c.planogram.len(), 3);
        assert_eq!(c.multi_plate_products(), 1);
        assert_eq!(c.facings().len(), 3);
    }

    #[test]
    fn bad_rows_name_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        write_store(dir.path(), &format!("{HEADER}A,Water,-3,1,0.49,standard,false\n"), "gondola,shelf,plate,sku\n");
        let err = Catalog::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("products.csv") && err.contains("line 2") && err.contains("unit_weight_g"), "{err}");

        write_store(dir.path(), &format!("{HEADER}A,Water,3,1,0.499,standard,false\n"), "gondola,shelf,plate,sku\n");
        let err = Catalog::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("price"), "{err}");

        write_store(
            dir.path(),
            &format!("{HEADER}A,Water,3,1,0.49,standard,false\n"),
            "gondola,shelf,plate,sku\n1,1,1,Z\n",
        );
        let err = Catalog::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("planogram.csv") && err.contains("Z is not in products.csv"), "{err}");
    }
}
