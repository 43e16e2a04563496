//! Reading the AiFi Nanostore files: plate CSVs
//! (`gondola_G_shelf_S_plate_P.csv`, rows `unix_seconds,grams`, no header)
//! and the catalogue `products-*.csv` (`Name,Gondola,Shelf,Plate,Weight,Price,Image`;
//! -1 = not on a shelf; one product may span several plates).

use super::Sample;
use crate::ids::PlateId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AifiError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// `gondola_3_shelf_2_plate_11.csv` -> plate 3.2.11.
pub fn plate_from_file_name(name: &str) -> Option<PlateId> {
    let stem = name.strip_suffix(".csv")?;
    let mut it = stem.split('_');
    let mut field = |label: &str| -> Option<u16> {
        (it.next()? == label).then_some(())?;
        it.next()?.parse().ok().filter(|n| *n > 0)
    };
    let (g, s, p) = (field("gondola")?, field("shelf")?, field("plate")?);
    it.next().is_none().then_some(PlateId::new(g, s, p))
}

/// Every plate CSV in `dir` (other files are ignored), samples in file order.
pub fn read_plate_dir(dir: &Path) -> Result<BTreeMap<PlateId, Vec<Sample>>, AifiError> {
    let entries = std::fs::read_dir(dir).map_err(|source| AifiError::Read { path: dir.to_owned(), source })?;
    let mut plates = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(|source| AifiError::Read { path: dir.to_owned(), source })?;
        let Some(plate) = entry.file_name().to_str().and_then(plate_from_file_name) else { continue };
        plates.insert(plate, read_plate_csv(&entry.path())?);
    }
    if plates.is_empty() {
        return Err(AifiError::Invalid {
            path: dir.to_owned(),
            message: "no gondola_G_shelf_S_plate_P.csv files here".into(),
        });
    }
    Ok(plates)
}

/// One plate CSV: `unix_seconds,grams` per row.
pub fn read_plate_csv(path: &Path) -> Result<Vec<Sample>, AifiError> {
    let text = std::fs::read_to_string(path).map_err(|source| AifiError::Read { path: path.to_owned(), source })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let bad = || AifiError::Invalid {
                path: path.to_owned(),
                message: format!("line {}: expected `unix_seconds,grams`, got {line:?}", i + 1),
            };
            let (t, g) = line.split_once(',').ok_or_else(bad)?;
            let t: f64 = t.trim().parse().map_err(|_| bad())?;
            let grams: f64 = g.trim().parse().map_err(|_| bad())?;
            Ok(Sample { t, grams })
        })
        .collect()
}

/// One row of an AiFi catalogue that sits on a shelf.
#[derive(Clone, Debug, PartialEq)]
pub struct AifiProduct {
    pub name: String,
    pub plate: PlateId,
    pub weight_g: f64,
    pub price: String,
}

/// Catalogue rows that are on a shelf (`Gondola > 0`); a product spanning
/// several plates appears once per plate.
pub fn read_products(path: &Path) -> Result<Vec<AifiProduct>, AifiError> {
    let text = std::fs::read_to_string(path).map_err(|source| AifiError::Read { path: path.to_owned(), source })?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let bad = |m: &str| AifiError::Invalid { path: path.to_owned(), message: format!("line {line}: {m}") };
        let row = row.map_err(|e| bad(&e.to_string()))?;
        let num = |idx: usize, what: &str| -> Result<f64, AifiError> {
            row.get(idx)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .ok_or_else(|| bad(&format!("{what} is not a number")))
        };
        let (g, s, p) = (num(1, "Gondola")?, num(2, "Shelf")?, num(3, "Plate")?);
        if g <= 0.0 || s <= 0.0 || p <= 0.0 {
            continue;
        }
        let weight_g = num(4, "Weight")?;
        if !(weight_g.is_finite() && weight_g > 0.0) {
            return Err(bad("Weight must be positive"));
        }
        out.push(AifiProduct {
            name: row.get(0).unwrap_or_default().trim().to_owned(),
            plate: PlateId::new(g as u16, s as u16, p as u16),
            weight_g,
            price: row.get(5).unwrap_or_default().trim().to_owned(),
        });
    }
    Ok(out)
}

/// The plates listed in a store-meta folder's `Plates.json`
/// (`plates[].id.shelf_id.gondola_id.id`, `.shelf_id.shelf_index`, `.plate_index`; 1-based).
pub fn read_store_plates(store_meta: &Path) -> Result<Vec<PlateId>, AifiError> {
    let path = store_meta.join("Plates.json");
    let text = std::fs::read_to_string(&path).map_err(|source| AifiError::Read { path: path.clone(), source })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| AifiError::Invalid { path: path.clone(), message: e.to_string() })?;
    let plates = json["plates"]
        .as_array()
        .ok_or_else(|| AifiError::Invalid { path: path.clone(), message: "no `plates` array".into() })?;
    let mut out = Vec::with_capacity(plates.len());
    for (i, p) in plates.iter().enumerate() {
        let id = &p["id"];
        let num = |v: &serde_json::Value| v.as_u64().and_then(|n| u16::try_from(n).ok()).filter(|n| *n > 0);
        let plate = match (
            num(&id["shelf_id"]["gondola_id"]["id"]),
            num(&id["shelf_id"]["shelf_index"]),
            num(&id["plate_index"]),
        ) {
            (Some(g), Some(s), Some(pl)) => PlateId::new(g, s, pl),
            _ => {
                return Err(AifiError::Invalid {
                    path: path.clone(),
                    message: format!("plates[{i}]: malformed id {id}"),
                });
            }
        };
        out.push(plate);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Relative spread assumed for AiFi unit weights, which come without one:
/// 1.5 % of the weight, at least 1.5 g (factory-packed goods).
pub fn assumed_sigma_g(weight_g: f64) -> f64 {
    (weight_g * 0.015).max(1.5)
}

/// The AiFi catalogue as the shelf pipeline needs it. AiFi products have no
/// SKU: the name is the identity.
pub fn shelf_catalog(products: &[AifiProduct]) -> super::inference::ShelfCatalog {
    use super::inference::{ProductWeight, ShelfCatalog};
    use crate::ids::Sku;
    let mut catalog = ShelfCatalog::default();
    for p in products {
        let sku = Sku(p.name.clone());
        catalog.products.entry(sku.clone()).or_insert_with(|| ProductWeight {
            sku: sku.clone(),
            name: p.name.clone(),
            unit_weight_g: p.weight_g,
            sigma_g: assumed_sigma_g(p.weight_g),
        });
        let on_plate = catalog.facings.entry(p.plate).or_default();
        if !on_plate.contains(&sku) {
            on_plate.push(sku);
        }
    }
    catalog
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plate_file_names_parse() {
        assert_eq!(plate_from_file_name("gondola_3_shelf_2_plate_11.csv"), Some(PlateId::new(3, 2, 11)));
        assert_eq!(plate_from_file_name("gondola_3_shelf_2_plate_11.txt"), None);
        assert_eq!(plate_from_file_name("gondola_3_shelf_2.csv"), None);
        assert_eq!(plate_from_file_name("gondola_0_shelf_2_plate_1.csv"), None);
        assert_eq!(plate_from_file_name("gondola_3_shelf_2_plate_1_x.csv"), None);
    }

    #[test]
    fn plate_csv_rows_parse_and_bad_rows_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gondola_1_shelf_1_plate_1.csv");
        std::fs::write(&p, "1580250245.0,1365.5\n1580250245.0166,1365.0\n").unwrap();
        let rows = read_plate_csv(&p).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].grams, 1365.0);
        std::fs::write(&p, "1580250245.0,1365.5\nxx\n").unwrap();
        assert!(read_plate_csv(&p).unwrap_err().to_string().contains("line 2"));
    }

    #[test]
    fn products_off_the_shelf_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("products.csv");
        std::fs::write(
            &p,
            "Name,Gondola,Shelf,Plate,Weight,Price,Image\nBar,-1,-1,-1,39.3,1,x\nCereal,3,2,4,674.0,1,y\n",
        )
        .unwrap();
        let rows = read_products(&p).unwrap();
        assert_eq!(
            rows,
            vec![AifiProduct {
                name: "Cereal".into(),
                plate: PlateId::new(3, 2, 4),
                weight_g: 674.0,
                price: "1".into()
            }]
        );
    }
}
