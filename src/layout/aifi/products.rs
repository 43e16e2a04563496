//! AiFi's products CSV (`Name,Gondola,Shelf,Plate,Weight,Price,Image`, one
//! row per product and plate, `-1` when not on a shelf, weights in grams)
//! converted into the project's `products.csv` and `planogram.csv`.

use crate::ids::PlateId;
use crate::layout::LayoutError;
use crate::layout::geometry::StoreGeometry;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;

#[derive(Debug, Deserialize)]
struct Row {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Gondola")]
    gondola: i32,
    #[serde(rename = "Shelf")]
    shelf: i32,
    #[serde(rename = "Plate")]
    plate: i32,
    #[serde(rename = "Weight")]
    weight: f32,
    #[serde(rename = "Price")]
    price: String,
}

impl Row {
    fn plate(&self) -> Option<PlateId> {
        let id = |v: i32| u16::try_from(v).ok().filter(|v| *v > 0);
        Some(PlateId::new(id(self.gondola)?, id(self.shelf)?, id(self.plate)?))
    }
}

/// The converted catalogue.
#[derive(Clone, Debug, Default)]
pub struct CatalogImport {
    pub products_csv: String,
    pub planogram_csv: String,
    pub products: usize,
    pub facings: usize,
    /// Products left out, with the reason.
    pub skipped: Vec<String>,
    pub warnings: Vec<String>,
}

/// A SKU from a product name: lower-case ASCII letters and digits, other runs
/// of characters as one `-`.
pub fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    s.trim_end_matches('-').to_string()
}

/// Weighing tolerance: 1.5 % of the unit weight, at least 1.5 g.
pub fn weight_tolerance_g(weight_g: f64) -> f64 {
    (weight_g * 0.015).max(1.5)
}

/// Reads AiFi's products CSV. Rows of one name are one product (on-shelf
/// rows with a positive weight win; disagreeing rows are reported); names
/// whose slugs collide get `-2`, `-3`, ... in order of appearance.
pub fn convert_products(path: &Path, geometry: &StoreGeometry) -> Result<CatalogImport, LayoutError> {
    let text = std::fs::read_to_string(path).map_err(|source| LayoutError::Read { path: path.to_owned(), source })?;
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let mut by_name: Vec<(String, Vec<Row>)> = Vec::new();
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        let row: Row = row.map_err(|e| LayoutError::invalid(path, format!("line {}", i + 2), e.to_string()))?;
        match by_name.iter_mut().find(|(n, _)| *n == row.name) {
            Some((_, rows)) => rows.push(row),
            None => by_name.push((row.name.clone(), vec![row])),
        }
    }

    let mut out = CatalogImport::default();
    let mut products = csv::Writer::from_writer(Vec::new());
    let mut rows_out: Vec<(String, [String; 7])> = Vec::new();
    let mut facings = BTreeSet::new();
    let mut used = BTreeSet::new();
    for (name, rows) in &by_name {
        let chosen = rows
            .iter()
            .filter(|r| r.weight > 0.0)
            .min_by_key(|r| r.plate().is_none())
            .ok_or(())
            .map_err(|_| format!("{name:?}: no positive weight"));
        let chosen = match chosen {
            Ok(r) => r,
            Err(why) => {
                if rows.iter().any(|r| r.plate().is_some()) {
                    out.warnings.push(format!("{why}; its facings are left out"));
                }
                out.skipped.push(why);
                continue;
            }
        };
        let price = Decimal::from_str(&chosen.price)
            .ok()
            .filter(|p| !p.is_sign_negative())
            .ok_or_else(|| {
                LayoutError::invalid(path, format!("{name:?}.Price"), format!("{:?} is not a price", chosen.price))
            })?
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        if rows.iter().any(|r| r.weight != chosen.weight || r.price != chosen.price) {
            out.warnings.push(format!(
                "{name:?}: rows disagree on weight or price; kept {} g at {}",
                chosen.weight, chosen.price
            ));
        }
        let base = slug(name);
        let base = if base.is_empty() { "product".to_string() } else { base };
        let sku = (1..)
            .map(|n| if n == 1 { base.clone() } else { format!("{base}-{n}") })
            .find(|s| !used.contains(s))
            .unwrap_or(base);
        used.insert(sku.clone());
        // f32 Display gives the shortest decimal that reads back the same: 89.9, not 89.9000015258789
        let weight = chosen.weight.to_string().parse::<f64>().unwrap_or(chosen.weight as f64);
        let record = [
            sku.clone(),
            name.clone(),
            chosen.weight.to_string(),
            format!("{:.2}", weight_tolerance_g(weight)),
            format!("{price:.2}"),
            "standard".to_string(),
            "false".to_string(),
        ];
        rows_out.push((sku.clone(), record));
        for r in rows {
            match r.plate() {
                Some(plate) => {
                    if !geometry.plates.contains_key(&plate) {
                        out.warnings.push(format!("{name:?}: plate {plate} is not in the store geometry"));
                    }
                    facings.insert((plate, sku.clone()));
                }
                None if (r.gondola, r.shelf, r.plate) != (-1, -1, -1) => {
                    out.warnings
                        .push(format!("{name:?}: no plate {}.{}.{}; row left out", r.gondola, r.shelf, r.plate));
                }
                None => {}
            }
        }
    }
    rows_out.sort_by(|a, b| a.0.cmp(&b.0));
    let csv_err = |e: csv::Error| LayoutError::invalid(path, "(output)".into(), e.to_string());
    products
        .write_record(["sku", "name", "unit_weight_g", "weight_tolerance_g", "price", "tax_class", "age_restricted"])
        .map_err(csv_err)?;
    for (_, r) in &rows_out {
        products.write_record(r).map_err(csv_err)?;
    }
    out.products = rows_out.len();
    out.products_csv =
        String::from_utf8(products.into_inner().map_err(|e| csv_err(e.into_error().into()))?).unwrap_or_default();
    let mut planogram = csv::Writer::from_writer(Vec::new());
    planogram.write_record(["gondola", "shelf", "plate", "sku"]).map_err(csv_err)?;
    for (p, sku) in &facings {
        planogram
            .write_record([p.gondola.to_string(), p.shelf.to_string(), p.plate.to_string(), sku.clone()])
            .map_err(csv_err)?;
    }
    out.facings = facings.len();
    out.planogram_csv =
        String::from_utf8(planogram.into_inner().map_err(|e| csv_err(e.into_error().into()))?).unwrap_or_default();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_tolerances() {
        assert_eq!(slug("Andy Capp's Cheddar Fries"), "andy-capp-s-cheddar-fries");
        assert_eq!(slug("  FIJI WATER .5 LTR "), "fiji-water-5-ltr");
        assert_eq!(slug("M&M's"), "m-m-s");
        assert_eq!(weight_tolerance_g(1000.0), 15.0);
        assert_eq!(weight_tolerance_g(28.0), 1.5);
    }

    #[test]
    fn rows_become_products_and_facings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(
            &path,
            "Name,Gondola,Shelf,Plate,Weight,Price,Image\n\
             Chips,1,1,1,89.9000015258789,1,http://x\n\
             Chips,1,1,2,89.9000015258789,1,http://x\n\
             Water,-1,-1,-1,524.6699829101562,1,\n\
             water,-1,-1,-1,620.0,1,\n\
             Ghost,-1,-1,-1,0.0,24,\n\
             \"Soap, 1 l\",-1,-1,-1,0.0,1,\n\
             \"Soap, 1 l\",-1,-1,-1,1200.0,2.5,\n",
        )
        .unwrap();
        let c = convert_products(&path, &StoreGeometry::default()).unwrap();
        assert_eq!(c.products, 4);
        assert!(c.products_csv.contains("chips,Chips,89.9,1.50,1.00,standard,false"), "{}", c.products_csv);
        assert!(c.products_csv.contains("water,Water,524.67,7.87,1.00"), "{}", c.products_csv);
        assert!(c.products_csv.contains("water-2,water,620,9.30,1.00"), "{}", c.products_csv);
        assert!(c.products_csv.contains("soap-1-l,\"Soap, 1 l\",1200,18.00,2.50"), "{}", c.products_csv);
        assert_eq!(c.planogram_csv, "gondola,shelf,plate,sku\n1,1,1,chips\n1,1,2,chips\n");
        assert_eq!(c.skipped.len(), 1, "{:?}", c.skipped);
        assert!(c.warnings.iter().any(|w| w.contains("Soap")), "{:?}", c.warnings);
        assert!(c.warnings.iter().any(|w| w.contains("plate 1.1.1 is not in the store geometry")));
    }
}
