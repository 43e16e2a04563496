//! Pricing a cart: line amounts, promotions, loyalty redemption, then tax per
//! rate, into a [`PricedCart`] whose lines add up exactly to its totals.

use super::allocate::allocate;
use super::apply::{WorkLine, apply_item_promotions};
use super::cart::{AppliedDiscount, DiscountKind, PricedCart, PricedLine};
use super::loyalty::{LoyaltyConfig, Redemption};
use super::promotion::{Promotion, PromotionRule};
use super::tax::{TaxMode, TaxTable};
use super::{PricingError, checked_sum, minor_per_major, mul, round_minor};
use crate::db::Product;
use crate::ids::Sku;
use crate::money::{Currency, Money};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One product in the cart, as the cart ledger hands it over.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CartLine {
    pub sku: Sku,
    pub name: String,
    pub quantity: u32,
    /// The shelf price: tax included in [`TaxMode::Inclusive`], excluded in
    /// [`TaxMode::Exclusive`].
    pub unit_price: Money,
    pub tax_class: String,
}

impl CartLine {
    /// A line for `quantity` units of a catalogue product.
    pub fn from_product(product: &Product, quantity: u32) -> Result<Self, PricingError> {
        let currency: Currency =
            product.currency.parse().map_err(|_| PricingError::UnknownCurrency(product.currency.clone()))?;
        Ok(Self {
            sku: product.sku.clone(),
            name: product.name.clone(),
            quantity,
            unit_price: Money::from_minor(product.price_minor, currency),
            tax_class: product.tax_class.clone(),
        })
    }
}

/// A store's pricing settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PricingRules {
    pub currency: Currency,
    pub tax_mode: TaxMode,
    pub tax_table: TaxTable,
    #[serde(default)]
    pub promotions: Vec<Promotion>,
    /// No loyalty programme when absent: nothing is earned and redeeming fails.
    #[serde(default)]
    pub loyalty: Option<LoyaltyConfig>,
}

impl PricingRules {
    /// Checks every promotion (active or not) and the loyalty settings.
    pub fn validate(&self) -> Result<(), PricingError> {
        self.promotions.iter().try_for_each(|p| p.validate(self.currency))?;
        self.loyalty.as_ref().map_or(Ok(()), LoyaltyConfig::validate)
    }
}

/// Prices `lines` on `date` (the tax point, in the store's time zone) and
/// redeems up to `redeem_points` loyalty points (the caller has checked the
/// shopper's balance; fewer are used when the basket is worth less).
pub fn price_cart(
    rules: &PricingRules,
    lines: &[CartLine],
    date: NaiveDate,
    redeem_points: u64,
) -> Result<PricedCart, PricingError> {
    rules.validate()?;
    let mut work =
        lines.iter().enumerate().map(|(i, l)| start_line(rules.currency, i, l)).collect::<Result<Vec<_>, _>>()?;
    let rates = lines.iter().map(|l| rules.tax_table.rate(&l.tax_class, date)).collect::<Result<Vec<_>, _>>()?;
    let active: Vec<&Promotion> = rules.promotions.iter().filter(|p| p.active_on(date)).collect();
    apply_item_promotions(&mut work, &active)?;
    apply_basket_promotion(&mut work, &active, rules.currency)?;
    let redemption = match (&rules.loyalty, redeem_points) {
        (_, 0) => Redemption::default(),
        (None, _) => return Err(PricingError::InvalidLoyalty("this store has no loyalty programme".into())),
        (Some(loyalty), _) => redeem(&mut work, loyalty, redeem_points, rules.currency)?,
    };
    let taxes = tax_per_line(&work, &rates, rules.tax_mode)?;
    let mut priced = Vec::with_capacity(lines.len());
    for (i, (line, w)) in lines.iter().zip(&work).enumerate() {
        let taxed = Taxed { rate: rates[i], code: tax_code(&rates, rates[i]), tax: taxes[i] };
        priced.push(finish_line(rules, i, line, w, taxed)?);
    }
    add_points(&mut priced, &work, rules, redemption.points)?;
    PricedCart::from_lines(rules.currency, rules.tax_mode, date, priced)
}

/// A line's rate, its code on the receipt and its share of the rate's tax.
struct Taxed {
    rate: Decimal,
    code: String,
    tax: i64,
}

fn finish_line(
    rules: &PricingRules,
    index: usize,
    line: &CartLine,
    work: &WorkLine,
    taxed: Taxed,
) -> Result<PricedLine, PricingError> {
    let base = work.remaining();
    let (net, gross) = match rules.tax_mode {
        TaxMode::Inclusive => (base - taxed.tax, base),
        TaxMode::Exclusive => (base, checked_sum([base, taxed.tax])?),
    };
    Ok(PricedLine {
        line_no: u32::try_from(index + 1).map_err(|_| PricingError::Overflow)?,
        sku: line.sku.clone(),
        name: line.name.clone(),
        quantity: i64::from(line.quantity),
        unit_price_minor: round_minor(mul(line.unit_price.amount, minor_per_major(rules.currency))?)?,
        amount_minor: work.amount,
        discounts: work.discounts.clone(),
        tax_class: line.tax_class.clone(),
        tax_code: taxed.code,
        tax_rate: taxed.rate,
        net_minor: net,
        tax_minor: taxed.tax,
        gross_minor: gross,
        points_earned: 0,
        points_redeemed: 0,
    })
}

/// Points earned on the gross paid, shared over lines by their gross; points
/// redeemed, shared by each line's part of the loyalty discount. Both only so
/// refunds can reverse them per line; the receipt totals are what count.
fn add_points(
    priced: &mut [PricedLine],
    work: &[WorkLine],
    rules: &PricingRules,
    redeemed: i64,
) -> Result<(), PricingError> {
    let gross: Vec<i64> = priced.iter().map(|l| l.gross_minor).collect();
    let earned = match &rules.loyalty {
        Some(l) => l.points_earned(checked_sum(gross.iter().copied())?, rules.currency)?,
        None => 0,
    };
    let loyalty_off: Vec<i64> = work.iter().map(|w| loyalty_discount(&w.discounts)).collect();
    let shares = allocate(earned, &gross, false)?.into_iter().zip(allocate(redeemed, &loyalty_off, false)?);
    for (line, (earned, redeemed)) in priced.iter_mut().zip(shares) {
        (line.points_earned, line.points_redeemed) = (earned, redeemed);
    }
    Ok(())
}

/// Checks a cart line and computes its amount, rounded to the minor unit.
fn start_line(currency: Currency, index: usize, line: &CartLine) -> Result<WorkLine, PricingError> {
    if line.unit_price.currency != currency {
        let what = format!("line {} ({})", index + 1, line.sku);
        return Err(PricingError::CurrencyMismatch { expected: currency, found: line.unit_price.currency, what });
    }
    if line.quantity == 0 {
        return Err(PricingError::ZeroQuantity { line: index + 1, sku: line.sku.clone() });
    }
    if line.unit_price.amount < Decimal::ZERO {
        return Err(PricingError::NegativePrice { line: index + 1, sku: line.sku.clone() });
    }
    let unit_minor = mul(line.unit_price.amount, minor_per_major(currency))?;
    Ok(WorkLine {
        sku: line.sku.clone(),
        unit_minor,
        amount: round_minor(mul(unit_minor, Decimal::from(line.quantity))?)?,
        free_units: line.quantity,
        discounts: Vec::new(),
    })
}

/// The one basket promotion that gives the largest discount (ties: the
/// first listed), on the basket after item-level promotions, allocated to
/// lines in proportion to what is left of each.
fn apply_basket_promotion(
    work: &mut [WorkLine],
    active: &[&Promotion],
    currency: Currency,
) -> Result<(), PricingError> {
    let remaining: Vec<i64> = work.iter().map(WorkLine::remaining).collect();
    let base = checked_sum(remaining.iter().copied())?;
    let mut best: Option<(&str, i64)> = None;
    for p in active {
        let PromotionRule::BasketPercentOff { threshold, percent } = &p.rule else { continue };
        if Decimal::from(base) < mul(threshold.amount, minor_per_major(currency))? {
            continue;
        }
        let off = round_minor(mul(Decimal::from(base), *percent)? / Decimal::ONE_HUNDRED)?.min(base);
        if best.is_none_or(|(_, b)| off > b) {
            best = Some((&p.name, off));
        }
    }
    if let Some((name, off)) = best {
        add_allocated(work, &remaining, off, name, DiscountKind::Basket)?;
    }
    Ok(())
}

/// Redeems points as a discount capped at what is left to pay.
fn redeem(
    work: &mut [WorkLine],
    loyalty: &LoyaltyConfig,
    points: u64,
    currency: Currency,
) -> Result<Redemption, PricingError> {
    let remaining: Vec<i64> = work.iter().map(WorkLine::remaining).collect();
    let redemption = loyalty.redeem(points, checked_sum(remaining.iter().copied())?, currency)?;
    add_allocated(work, &remaining, redemption.discount_minor, &loyalty.label, DiscountKind::Loyalty)?;
    Ok(redemption)
}

fn add_allocated(
    work: &mut [WorkLine],
    weights: &[i64],
    total: i64,
    name: &str,
    kind: DiscountKind,
) -> Result<(), PricingError> {
    for (line, share) in work.iter_mut().zip(allocate(total, weights, true)?) {
        if share > 0 {
            line.discounts.push(AppliedDiscount { name: name.to_owned(), kind, amount_minor: share });
        }
    }
    Ok(())
}

/// Tax per rate on the rate's sum (extracted from the gross when inclusive,
/// added to the net when exclusive), rounded half away from zero, then
/// apportioned to that rate's lines so the lines add up to it exactly.
fn tax_per_line(work: &[WorkLine], rates: &[Decimal], mode: TaxMode) -> Result<Vec<i64>, PricingError> {
    let mut taxes = vec![0_i64; work.len()];
    let mut distinct: Vec<Decimal> = rates.to_vec();
    distinct.sort();
    distinct.dedup();
    for rate in distinct {
        let members: Vec<usize> = (0..work.len()).filter(|i| rates[*i] == rate).collect();
        let weights: Vec<i64> = members.iter().map(|i| work[*i].remaining()).collect();
        let base = Decimal::from(checked_sum(weights.iter().copied())?);
        let divisor = match mode {
            TaxMode::Inclusive => Decimal::ONE_HUNDRED + rate,
            TaxMode::Exclusive => Decimal::ONE_HUNDRED,
        };
        let tax = if rate.is_zero() { 0 } else { round_minor(mul(base, rate)? / divisor)? };
        for (i, share) in members.into_iter().zip(allocate(tax, &weights, true)?) {
            taxes[i] = share;
        }
    }
    Ok(taxes)
}

/// `A` for the highest rate on the receipt, `B` for the next, and so on.
fn tax_code(rates: &[Decimal], rate: Decimal) -> String {
    let mut distinct: Vec<Decimal> = rates.to_vec();
    distinct.sort_by(|a, b| b.cmp(a));
    distinct.dedup();
    let i = distinct.iter().position(|r| *r == rate).unwrap_or(0);
    match u8::try_from(i) {
        Ok(i) if i < 26 => char::from(b'A' + i).to_string(),
        _ => format!("R{}", i + 1),
    }
}

fn loyalty_discount(discounts: &[AppliedDiscount]) -> i64 {
    discounts.iter().filter(|d| d.kind == DiscountKind::Loyalty).map(|d| d.amount_minor).sum()
}
