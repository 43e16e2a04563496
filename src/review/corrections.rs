//! A reviewer's corrections, pure: the case page's form (one row per cart
//! line: the quantity this shopper took, the product it really was, another
//! shopper of the same time to move units to; plus an item the system
//! missed) is checked against the cart the reviewer saw and turned into
//! correcting ledger entries, each with a reason that the back office
//! counts. History is never edited: a wrong line is taken out with a
//! `correction_remove` and the right one put in with a `correction_add`.

use crate::db::CartEventKind;
use crate::ids::{Sku, VisitId};
use std::collections::{BTreeMap, BTreeSet};

/// The most units one correction may name.
pub const MAX_UNITS: i64 = 999;
/// The longest comment kept.
pub const MAX_COMMENT: usize = 2_000;

/// Why a line was corrected (counted in the back office).
pub const REASONS: &[(&str, &str)] = &[
    ("wrong_quantity", "wrong quantity"),
    ("not_taken", "not taken"),
    ("wrong_product", "wrong product"),
    ("other_shopper", "another shopper took it"),
    ("missed_item", "missed item"),
];

/// One row of the form as submitted.
#[derive(Clone, Debug, PartialEq)]
pub struct LineEdit {
    pub sku: Sku,
    /// Units this shopper took, as the reviewer says.
    pub quantity: i64,
    /// The product it really was (the line's own SKU when unchanged).
    pub product: Sku,
    /// The visit the units no longer on this cart go to.
    pub move_to: Option<VisitId>,
}

/// The decision form, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionForm {
    /// The ledger version the page showed (see [`ledger_version`]).
    pub version: String,
    pub comment: String,
    pub lines: Vec<LineEdit>,
    /// A missed item: product and units.
    pub add: Option<(Sku, i64)>,
}

/// One correcting ledger entry; `visit: None` is the case's own visit.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The form row it comes from (the missed item is the row after the lines):
    /// one correction of a line may take two entries.
    pub line: usize,
    pub visit: Option<VisitId>,
    pub kind: CartEventKind,
    pub sku: Sku,
    pub quantity: i64,
    pub reason: &'static str,
}

/// A form that cannot be applied, with a message for the reviewer.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct FormError(pub String);

fn bad<T>(message: impl Into<String>) -> Result<T, FormError> {
    Err(FormError(message.into()))
}

/// The ledger as the page showed it: its length and last sequence number.
pub fn ledger_version(events: &[crate::db::CartEvent]) -> String {
    format!("{}:{}", events.len(), events.last().map_or(0, |e| e.seq))
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim())
}

fn units(text: Option<&str>, what: &str) -> Result<i64, FormError> {
    match text.map(str::parse::<i64>) {
        Some(Ok(n)) if (0..=MAX_UNITS).contains(&n) => Ok(n),
        _ => bad(format!("{what}: give a whole number of units from 0 to {MAX_UNITS}")),
    }
}

/// Reads the form's fields (`version`, `comment`, `sku.N`, `qty.N`,
/// `product.N`, `move.N`, `add_sku`, `add_qty`).
pub fn parse_form(fields: &[(String, String)]) -> Result<DecisionForm, FormError> {
    let version = field(fields, "version").unwrap_or_default().to_owned();
    let comment = field(fields, "comment").unwrap_or_default().to_owned();
    let mut lines = Vec::new();
    for i in 0.. {
        let Some(sku) = field(fields, &format!("sku.{i}")) else { break };
        let quantity = units(field(fields, &format!("qty.{i}")), &format!("line {}", i + 1))?;
        let product = field(fields, &format!("product.{i}")).filter(|p| !p.is_empty()).unwrap_or(sku);
        let move_to = field(fields, &format!("move.{i}")).filter(|v| !v.is_empty()).map(VisitId::from);
        lines.push(LineEdit { sku: Sku::from(sku), quantity, product: Sku::from(product), move_to });
    }
    let add = match field(fields, "add_sku").filter(|s| !s.is_empty()) {
        None => None,
        Some(sku) => match units(field(fields, "add_qty"), "the missed item")? {
            0 => return bad("the missed item: give at least 1 unit"),
            n => Some((Sku::from(sku), n)),
        },
    };
    Ok(DecisionForm { version, comment, lines, add })
}

/// What the cart may be corrected against.
pub struct Context<'a> {
    /// Units per product on the cart the page showed.
    pub cart: &'a BTreeMap<Sku, i64>,
    pub products: &'a BTreeSet<Sku>,
    /// Other visits of the same time that can still be charged.
    pub movable_to: &'a BTreeSet<VisitId>,
}

/// The correcting entries of a form (empty: approved as it is).
pub fn plan(form: &DecisionForm, ctx: &Context<'_>) -> Result<Vec<Change>, FormError> {
    if form.comment.is_empty() {
        return bad("a comment is required: say what you saw");
    }
    if form.comment.chars().count() > MAX_COMMENT {
        return bad(format!("the comment is too long (at most {MAX_COMMENT} characters)"));
    }
    let mut seen = BTreeSet::new();
    let mut changes = Vec::new();
    for (i, line) in form.lines.iter().enumerate() {
        let Some(&held) = ctx.cart.get(&line.sku) else {
            return bad(format!("{} is not on this cart any more: reload the case", line.sku));
        };
        if !seen.insert(&line.sku) {
            return bad(format!("{} appears twice in the form", line.sku));
        }
        changes.extend(line_changes(i, line, held, ctx)?);
    }
    if let Some((sku, n)) = &form.add {
        if !ctx.products.contains(sku) {
            return bad(format!("{sku} is not in the catalogue"));
        }
        let line = form.lines.len();
        changes.push(Change {
            line,
            visit: None,
            kind: CartEventKind::CorrectionAdd,
            sku: sku.clone(),
            quantity: *n,
            reason: "missed_item",
        });
    }
    Ok(changes)
}

fn line_changes(i: usize, line: &LineEdit, held: i64, ctx: &Context<'_>) -> Result<Vec<Change>, FormError> {
    let change = |visit: Option<VisitId>, kind, sku: &Sku, quantity, reason| Change {
        line: i,
        visit,
        kind,
        sku: sku.clone(),
        quantity,
        reason,
    };
    use CartEventKind::{CorrectionAdd as Add, CorrectionRemove as Remove};
    if line.product != line.sku {
        if line.move_to.is_some() {
            return bad(format!("{}: change the product or move units to another shopper, not both", line.sku));
        }
        if !ctx.products.contains(&line.product) {
            return bad(format!("{} is not in the catalogue", line.product));
        }
        let mut out = vec![change(None, Remove, &line.sku, held, "wrong_product")];
        if line.quantity > 0 {
            out.push(change(None, Add, &line.product, line.quantity, "wrong_product"));
        }
        return Ok(out);
    }
    if let Some(to) = &line.move_to {
        if !ctx.movable_to.contains(to) {
            return bad(format!("{}: visit {to} is not a shopper in the store at the same time", line.sku));
        }
        let moved = held - line.quantity;
        if moved <= 0 {
            return bad(format!("{}: lower this shopper's units; the difference goes to the other shopper", line.sku));
        }
        return Ok(vec![
            change(None, Remove, &line.sku, moved, "other_shopper"),
            change(Some(to.clone()), Add, &line.sku, moved, "other_shopper"),
        ]);
    }
    Ok(match line.quantity.cmp(&held) {
        std::cmp::Ordering::Less => {
            let reason = if line.quantity == 0 { "not_taken" } else { "wrong_quantity" };
            vec![change(None, Remove, &line.sku, held - line.quantity, reason)]
        }
        std::cmp::Ordering::Greater => vec![change(None, Add, &line.sku, line.quantity - held, "wrong_quantity")],
        std::cmp::Ordering::Equal => vec![],
    })
}

#[cfg(test)]
#[path = "corrections_tests.rs"]
mod tests;
