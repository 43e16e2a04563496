//! Tests of the correction form and plan.

use super::*;

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn sku(s: &str) -> Sku {
    Sku::from(s)
}

struct World {
    cart: BTreeMap<Sku, i64>,
    products: BTreeSet<Sku>,
    movable: BTreeSet<VisitId>,
}

fn world() -> World {
    World {
        cart: BTreeMap::from([(sku("cola"), 3), (sku("water"), 1)]),
        products: ["cola", "water", "lemon", "beer"].into_iter().map(sku).collect(),
        movable: BTreeSet::from([VisitId::from("v-other")]),
    }
}

fn plan_of(pairs: &[(&str, &str)]) -> Result<Vec<Change>, FormError> {
    let w = world();
    let form = parse_form(&fields(pairs))?;
    plan(&form, &Context { cart: &w.cart, products: &w.products, movable_to: &w.movable })
}

fn lines(cola: (&str, &str, &str), water: (&str, &str, &str)) -> Vec<(&'static str, String)> {
    vec![
        ("sku.0", "cola".into()),
        ("qty.0", cola.0.into()),
        ("product.0", cola.1.into()),
        ("move.0", cola.2.into()),
        ("sku.1", "water".into()),
        ("qty.1", water.0.into()),
        ("product.1", water.1.into()),
        ("move.1", water.2.into()),
    ]
}

fn with(extra: &[(&'static str, &'static str)], base: Vec<(&'static str, String)>) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = base.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    all.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    all
}

fn run(pairs: Vec<(String, String)>) -> Result<Vec<Change>, FormError> {
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    plan_of(&borrowed)
}

const COMMENT: &[(&str, &str)] = &[("comment", "checked the shelf camera"), ("version", "3:17")];

#[test]
fn an_unchanged_form_approves_and_the_version_and_comment_are_read() {
    let pairs = with(COMMENT, lines(("3", "cola", ""), ("1", "", "")));
    let form = parse_form(&pairs).unwrap();
    assert_eq!(
        (form.version.as_str(), form.comment.as_str(), form.lines.len()),
        ("3:17", "checked the shelf camera", 2)
    );
    assert_eq!(form.lines[1].product, sku("water"), "an empty product keeps the line's own");
    assert_eq!(run(pairs).unwrap(), vec![]);
}

#[test]
fn quantities_products_moves_and_missed_items_become_correcting_entries() {
    use CartEventKind::{CorrectionAdd as Add, CorrectionRemove as Remove};
    let c = |line, visit: Option<&str>, kind, s: &str, quantity, reason| Change {
        line,
        visit: visit.map(VisitId::from),
        kind,
        sku: sku(s),
        quantity,
        reason,
    };
    assert_eq!(
        run(with(COMMENT, lines(("2", "cola", ""), ("0", "water", "")))).unwrap(),
        vec![c(0, None, Remove, "cola", 1, "wrong_quantity"), c(1, None, Remove, "water", 1, "not_taken"),]
    );
    assert_eq!(
        run(with(COMMENT, lines(("5", "cola", ""), ("1", "lemon", "")))).unwrap(),
        vec![
            c(0, None, Add, "cola", 2, "wrong_quantity"),
            c(1, None, Remove, "water", 1, "wrong_product"),
            c(1, None, Add, "lemon", 1, "wrong_product"),
        ]
    );
    assert_eq!(
        run(with(
            &[("add_sku", "beer"), ("add_qty", "2"), COMMENT[0]],
            lines(("1", "cola", "v-other"), ("1", "water", ""))
        ))
        .unwrap(),
        vec![
            c(0, None, Remove, "cola", 2, "other_shopper"),
            c(0, Some("v-other"), Add, "cola", 2, "other_shopper"),
            c(2, None, Add, "beer", 2, "missed_item"),
        ]
    );
}

#[test]
fn bad_forms_are_refused_with_a_reason() {
    let refused = |pairs: Vec<(String, String)>, needle: &str| {
        let err = run(pairs).unwrap_err().0;
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    };
    refused(with(&[("version", "1:1")], lines(("3", "", ""), ("1", "", ""))), "comment is required");
    refused(with(&[("comment", "   ")], lines(("3", "", ""), ("1", "", ""))), "comment is required");
    refused(with(COMMENT, lines(("-1", "", ""), ("1", "", ""))), "line 1");
    refused(with(COMMENT, lines(("three", "", ""), ("1", "", ""))), "whole number");
    refused(with(COMMENT, lines(("3", "", ""), ("1000", "", ""))), "line 2");
    refused(with(COMMENT, lines(("3", "caviar", ""), ("1", "", ""))), "caviar is not in the catalogue");
    refused(with(COMMENT, lines(("1", "lemon", "v-other"), ("1", "", ""))), "not both");
    refused(with(COMMENT, lines(("1", "", "v-stranger"), ("1", "", ""))), "same time");
    refused(with(COMMENT, lines(("3", "", "v-other"), ("1", "", ""))), "lower this shopper's units");
    refused(with(&[("add_sku", "beer"), ("add_qty", "0"), COMMENT[0]], vec![]), "at least 1 unit");
    refused(with(&[("add_sku", "caviar"), ("add_qty", "1"), COMMENT[0]], vec![]), "caviar");
    let long = "x".repeat(MAX_COMMENT + 1);
    let pairs = vec![("comment".to_owned(), long)];
    assert!(run(pairs).unwrap_err().0.contains("too long"));
    let stale = vec![
        ("comment".to_owned(), "ok".to_owned()),
        ("sku.0".to_owned(), "bread".to_owned()),
        ("qty.0".to_owned(), "1".to_owned()),
    ];
    assert!(run(stale).unwrap_err().0.contains("reload"));
    let twice = with(
        COMMENT,
        vec![("sku.0", "cola".into()), ("qty.0", "3".into()), ("sku.1", "cola".into()), ("qty.1", "3".into())],
    );
    assert!(run(twice).unwrap_err().0.contains("twice"));
}

#[test]
fn the_ledger_version_names_its_length_and_last_entry() {
    assert_eq!(ledger_version(&[]), "0:0");
}
