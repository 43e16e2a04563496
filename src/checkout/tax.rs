//! Tax modes and dated tax-rate tables.
//!
//! A tax class (`standard`, `reduced`, any name a catalogue uses) maps to a
//! list of rates, each in force from a date until the next one starts, so a
//! rate change (Germany's temporary cut in the second half of 2020) is priced
//! by the date of the sale, never by the date the table was loaded.

use super::PricingError;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether shelf prices include tax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxMode {
    /// EU VAT: shelf prices include VAT; the VAT is extracted per rate from
    /// the receipt's gross sum at that rate.
    Inclusive,
    /// US sales tax: shelf prices exclude tax; tax is computed per rate on the
    /// receipt's net sum at that rate and added on top.
    Exclusive,
}

impl std::str::FromStr for TaxMode {
    type Err = PricingError;
    /// Accepts the store setting's spelling (`inclusive` / `exclusive`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "inclusive" => Ok(Self::Inclusive),
            "exclusive" => Ok(Self::Exclusive),
            _ => Err(PricingError::InvalidTaxTable(format!("tax mode {s:?}: expected `inclusive` or `exclusive`"))),
        }
    }
}

/// One row of a tax table: `class` is taxed at `percent` from `from` on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxRateEntry {
    pub class: String,
    pub from: NaiveDate,
    /// Percent, e.g. `19` or `8.875`; between 0 and 100 inclusive.
    pub percent: Decimal,
}

/// The on-disk shape: `[[rates]] class = "standard" from = "2007-01-01" percent = "19"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTaxTable {
    rates: Vec<TaxRateEntry>,
}

/// Tax rates per class, each list sorted by start date.
///
/// Invariants (checked on construction): every rate is within 0..=100 %, and
/// no class has two rates starting on the same date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawTaxTable", into = "RawTaxTable")]
pub struct TaxTable {
    classes: BTreeMap<String, Vec<(NaiveDate, Decimal)>>,
}

impl TaxTable {
    /// Builds a table from rows in any order.
    pub fn new(entries: impl IntoIterator<Item = TaxRateEntry>) -> Result<Self, PricingError> {
        let mut classes: BTreeMap<String, Vec<(NaiveDate, Decimal)>> = BTreeMap::new();
        for e in entries {
            if e.class.trim().is_empty() {
                return Err(PricingError::InvalidTaxTable("a rate has an empty class name".into()));
            }
            if e.percent < Decimal::ZERO || e.percent > Decimal::ONE_HUNDRED {
                return Err(PricingError::InvalidTaxTable(format!(
                    "{:?} from {}: {} % is outside 0..=100",
                    e.class, e.from, e.percent
                )));
            }
            classes.entry(e.class).or_default().push((e.from, e.percent));
        }
        for (class, rates) in &mut classes {
            rates.sort_by_key(|(from, _)| *from);
            if let Some(w) = rates.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(PricingError::InvalidTaxTable(format!("{class:?} has two rates from {}", w[0].0)));
            }
        }
        Ok(Self { classes })
    }

    /// Parses the TOML form (`[[rates]]` rows with `class`, `from`, `percent`).
    pub fn from_toml(text: &str) -> Result<Self, PricingError> {
        toml::from_str(text).map_err(|e| PricingError::InvalidTaxTable(e.to_string()))
    }

    /// Germany: standard 19 % and reduced 7 %, with the temporary cut to
    /// 16 % / 5 % from 2020-07-01 to 2020-12-31 (Zweites Corona-Steuerhilfegesetz).
    pub fn germany() -> Self {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("valid date");
        let row =
            |class: &str, from, percent| TaxRateEntry { class: class.into(), from, percent: Decimal::from(percent) };
        Self::new([
            row("standard", d(2007, 1, 1), 19),
            row("standard", d(2020, 7, 1), 16),
            row("standard", d(2021, 1, 1), 19),
            row("reduced", d(1983, 7, 1), 7),
            row("reduced", d(2020, 7, 1), 5),
            row("reduced", d(2021, 1, 1), 7),
        ])
        .expect("the German table is valid")
    }

    /// The rate (percent) of `class` in force on `date`: the latest row that
    /// starts on or before it.
    pub fn rate(&self, class: &str, date: NaiveDate) -> Result<Decimal, PricingError> {
        let rates = self.classes.get(class).ok_or_else(|| PricingError::UnknownTaxClass(class.to_owned()))?;
        rates
            .iter()
            .rev()
            .find(|(from, _)| *from <= date)
            .map(|(_, percent)| *percent)
            .ok_or_else(|| PricingError::NoRateForDate { class: class.to_owned(), date, earliest: rates[0].0 })
    }

    /// The rows, grouped by class and sorted by date.
    pub fn entries(&self) -> Vec<TaxRateEntry> {
        self.classes
            .iter()
            .flat_map(|(class, rates)| {
                rates.iter().map(|(from, percent)| TaxRateEntry {
                    class: class.clone(),
                    from: *from,
                    percent: *percent,
                })
            })
            .collect()
    }
}

impl TryFrom<RawTaxTable> for TaxTable {
    type Error = PricingError;
    fn try_from(raw: RawTaxTable) -> Result<Self, PricingError> {
        Self::new(raw.rates)
    }
}

impl From<TaxTable> for RawTaxTable {
    fn from(table: TaxTable) -> Self {
        RawTaxTable { rates: table.entries() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn german_rates_follow_the_2020_cut_by_date() {
        let t = TaxTable::germany();
        assert_eq!(t.rate("standard", d(2020, 6, 30)).unwrap(), Decimal::from(19));
        assert_eq!(t.rate("standard", d(2020, 7, 1)).unwrap(), Decimal::from(16));
        assert_eq!(t.rate("reduced", d(2020, 12, 31)).unwrap(), Decimal::from(5));
        assert_eq!(t.rate("reduced", d(2021, 1, 1)).unwrap(), Decimal::from(7));
        assert_eq!(t.rate("standard", d(2026, 3, 1)).unwrap(), Decimal::from(19));
    }

    #[test]
    fn unknown_class_and_early_date_are_named() {
        let t = TaxTable::germany();
        assert_eq!(t.rate("luxury", d(2024, 1, 1)), Err(PricingError::UnknownTaxClass("luxury".into())));
        let err = t.rate("standard", d(1999, 1, 1)).unwrap_err();
        assert_eq!(
            err,
            PricingError::NoRateForDate { class: "standard".into(), date: d(1999, 1, 1), earliest: d(2007, 1, 1) }
        );
        assert!(err.to_string().contains("2007-01-01"), "{err}");
    }

    #[test]
    fn loads_from_toml_and_round_trips() {
        let text = r#"
            [[rates]]
            class = "standard"
            from = "2007-01-01"
            percent = "19"

            [[rates]]
            class = "food"
            from = "2015-01-01"
            percent = 8.875
        "#;
        let t = TaxTable::from_toml(text).unwrap();
        assert_eq!(t.rate("food", d(2024, 5, 1)).unwrap(), "8.875".parse::<Decimal>().unwrap());
        let back = TaxTable::from_toml(&toml::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        let json: TaxTable = serde_json::from_str(&serde_json::to_string(&TaxTable::germany()).unwrap()).unwrap();
        assert_eq!(json, TaxTable::germany());
    }

    #[test]
    fn invalid_tables_are_refused() {
        let bad_rate = "[[rates]]\nclass = \"x\"\nfrom = \"2020-01-01\"\npercent = \"120\"\n";
        assert!(matches!(TaxTable::from_toml(bad_rate), Err(PricingError::InvalidTaxTable(m)) if m.contains("120")));
        let twice = "[[rates]]\nclass = \"x\"\nfrom = \"2020-01-01\"\npercent = 5\n\
                     [[rates]]\nclass = \"x\"\nfrom = \"2020-01-01\"\npercent = 6\n";
        assert!(TaxTable::from_toml(twice).is_err());
        assert!(TaxTable::from_toml("[[rates]]\nclass = \"x\"\nfrom = \"soon\"\npercent = 5\n").is_err());
    }

    #[test]
    fn tax_mode_parses_the_store_setting() {
        assert_eq!("inclusive".parse::<TaxMode>().unwrap(), TaxMode::Inclusive);
        assert_eq!("Exclusive".parse::<TaxMode>().unwrap(), TaxMode::Exclusive);
        assert!("gross".parse::<TaxMode>().is_err());
        assert_eq!(serde_json::to_string(&TaxMode::Inclusive).unwrap(), "\"inclusive\"");
    }
}
