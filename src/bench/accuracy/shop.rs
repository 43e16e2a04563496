//! The commerce side of an accuracy run, as it runs in the store: a SQLite
//! database with the catalogue installed, shoppers with sandbox cards and
//! phone keys, the real gate (signed entry tokens, payment holds), fusion's
//! ledger written as cart events, and the real exit (review policy,
//! pricing, capture, gap-free receipts, e-mail and push queued).

use crate::bench::checkout::{CheckoutBenchError, enrol, sandbox_gate_and_exit};
use crate::catalog::Catalog;
use crate::db::{ConnectOptions, SqlStore, Storage};
use crate::fusion::ClosedVisit;
use crate::ids::{DeviceId, ShopperId, Sku, VisitId};
use crate::visit::client::DeviceKey;
use crate::visit::exit::{Exit, ExitOutcome};
use crate::visit::gate::Gate;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn err(e: impl std::fmt::Display) -> CheckoutBenchError {
    CheckoutBenchError::Setup(e.to_string())
}

pub struct Shop {
    pub storage: Arc<SqlStore>,
    gate: Gate,
    exit: Exit,
    accounts: BTreeMap<u32, (ShopperId, DeviceId, DeviceKey)>,
    products: BTreeMap<Sku, crate::db::Product>,
    /// Where charged receipts are written as text, when set.
    pub receipts_dir: Option<std::path::PathBuf>,
}

/// What the exit did with a visit.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub cart: BTreeMap<Sku, i64>,
    pub reviewed: bool,
    pub reasons: Vec<String>,
    pub charged_minor: i64,
    /// The least confident event fusion put in the cart.
    pub min_confidence: Option<f64>,
}

impl Shop {
    /// A fresh store database under `dir` with the catalogue installed.
    pub async fn open(catalog: &Catalog, dir: &Path, review_below_confidence: f64) -> Result<Self, CheckoutBenchError> {
        let url = format!("sqlite://{}/store.db", dir.display());
        let storage = Arc::new(SqlStore::connect(&ConnectOptions::new(url)).await?);
        catalog.install(&*storage, crate::now_ms()).await?;
        let (gate, exit) = sandbox_gate_and_exit(storage.clone(), catalog, dir, review_below_confidence).await?;
        Ok(Self {
            storage,
            gate,
            exit,
            accounts: BTreeMap::new(),
            products: catalog.products.clone(),
            receipts_dir: None,
        })
    }

    /// The party's host scans a fresh token for the party at sim time `t`.
    pub async fn scan(&mut self, party: u32, guests: u8, t: f64) -> Result<VisitId, CheckoutBenchError> {
        if !self.accounts.contains_key(&party) {
            let account = enrol(&*self.storage, party as usize).await?;
            self.accounts.insert(party, account);
        }
        let (shopper, device, key) = &self.accounts[&party];
        let now_ms = (t * 1000.0) as i64;
        let token = key.draw(shopper, device, now_ms / 1000, guests);
        let visit = self.gate.scan("sim-gate", &token, now_ms).await.map_err(err)?;
        Ok(visit.id)
    }

    /// Writes the visit's ledger and runs the exit.
    pub async fn exit(&self, closed: &ClosedVisit) -> Result<Decision, CheckoutBenchError> {
        let outcome = self.exit.close_fused(closed).await.map_err(err)?;
        let min_confidence = closed.events.iter().map(|e| e.confidence).min_by(f64::total_cmp);
        let cart = crate::fusion::ledger::cart(&self.storage.cart_events(&closed.visit).await?).items;
        Ok(match outcome {
            ExitOutcome::Charged { receipt, document } => {
                if let Some(dir) = &self.receipts_dir {
                    let path = dir.join(format!("receipt-{:06}.txt", receipt.receipt_no));
                    std::fs::write(&path, crate::checkout::render_text(&document))
                        .map_err(|e| err(format!("{}: {e}", path.display())))?;
                }
                Decision {
                    cart,
                    reviewed: false,
                    reasons: Vec::new(),
                    charged_minor: receipt.total_minor,
                    min_confidence,
                }
            }
            ExitOutcome::Review { reasons, .. } => {
                let charged_minor = self.price(&cart)?;
                Decision { cart, reviewed: true, reasons, charged_minor, min_confidence }
            }
        })
    }

    /// The gross total of a cart at today's prices (minor units).
    pub fn price(&self, items: &BTreeMap<Sku, i64>) -> Result<i64, CheckoutBenchError> {
        let catalog_lines: Result<Vec<_>, _> = items
            .iter()
            .map(|(sku, n)| {
                let product = self.exit_product(sku)?;
                crate::checkout::CartLine::from_product(&product, u32::try_from(*n).unwrap_or(u32::MAX)).map_err(err)
            })
            .collect();
        let lines = catalog_lines?;
        let date = chrono::DateTime::from_timestamp(crate::sim::OPENING_T as i64, 0).unwrap_or_default().date_naive();
        let priced = crate::checkout::price_cart(&self.exit.rules, &lines, date, 0).map_err(err)?;
        priced.total_gross().to_minor().map_err(err)
    }

    fn exit_product(&self, sku: &Sku) -> Result<crate::db::Product, CheckoutBenchError> {
        self.products.get(sku).cloned().ok_or_else(|| err(format!("unknown product {sku}")))
    }
}
