//! Applying item-level promotions to the units of a cart.
//!
//! Fixed order: every multi-buy, then every buy-X-get-Y, then every percent
//! off, then every amount off; within a kind, the order the store listed
//! them. A unit that took part in one item-level promotion (as a paid or a
//! discounted unit of a deal) is not eligible for another, so item-level
//! promotions never stack on a unit. Each discount is rounded per line, half
//! away from zero, and capped at what is left of the line.

use super::cart::{AppliedDiscount, DiscountKind};
use super::promotion::{Promotion, PromotionRule};
use super::{PricingError, minor_per_major, mul, round_minor};
use crate::ids::Sku;
use rust_decimal::Decimal;

/// A cart line while it is being priced.
#[derive(Clone, Debug)]
pub(crate) struct WorkLine {
    pub sku: Sku,
    /// Exact unit price in minor units (may carry digits below the minor unit).
    pub unit_minor: Decimal,
    /// `quantity * unit price`, rounded to the minor unit.
    pub amount: i64,
    /// Units not yet taken by an item-level promotion.
    pub free_units: u32,
    pub discounts: Vec<AppliedDiscount>,
}

impl WorkLine {
    /// The line amount less its discounts so far; never negative.
    pub fn remaining(&self) -> i64 {
        self.amount - self.discounts.iter().map(|d| d.amount_minor).sum::<i64>()
    }

    /// Adds a discount of `units * per_unit` (exact minor units), rounded
    /// half away from zero and capped at what is left of the line.
    fn discount(&mut self, name: &str, kind: DiscountKind, units: u64, per_unit: Decimal) -> Result<(), PricingError> {
        let exact = mul(Decimal::from(units), per_unit)?;
        let amount = round_minor(exact)?.min(self.remaining());
        if amount > 0 {
            self.discounts.push(AppliedDiscount { name: name.to_owned(), kind, amount_minor: amount });
        }
        Ok(())
    }
}

/// Applies the active item-level promotions in the documented order.
pub(crate) fn apply_item_promotions(lines: &mut [WorkLine], active: &[&Promotion]) -> Result<(), PricingError> {
    let rank = |p: &&&Promotion| match p.rule {
        PromotionRule::MultiBuy { .. } => 0,
        PromotionRule::BuyGet { .. } => 1,
        PromotionRule::PercentOff { .. } => 2,
        PromotionRule::AmountOff { .. } => 3,
        PromotionRule::BasketPercentOff { .. } => 4,
    };
    let mut ordered: Vec<&&Promotion> = active.iter().filter(|p| !p.is_basket_level()).collect();
    ordered.sort_by_key(rank); // stable: keeps the listed order within a kind
    for p in ordered {
        apply_one(lines, p)?;
    }
    Ok(())
}

fn apply_one(lines: &mut [WorkLine], p: &Promotion) -> Result<(), PricingError> {
    let name = p.name.as_str();
    match &p.rule {
        PromotionRule::MultiBuy { skus, buy, pay_for } => {
            group_deal(lines, name, &|s| skus.contains(s), *buy, *pay_for, Decimal::ONE_HUNDRED)
        }
        PromotionRule::BuyGet { buy_sku, buy, get_sku, get, percent_off } if buy_sku == get_sku => {
            let group = buy.checked_add(*get).ok_or(PricingError::Overflow)?;
            group_deal(lines, name, &|s| s == buy_sku, group, *buy, *percent_off)
        }
        PromotionRule::BuyGet { buy_sku, buy, get_sku, get, percent_off } => {
            buy_get(lines, name, (buy_sku, *buy), (get_sku, *get), *percent_off)
        }
        PromotionRule::PercentOff { skus, percent } => {
            for line in lines.iter_mut().filter(|l| l.free_units > 0 && skus.contains(&l.sku)) {
                let per_unit = mul(line.unit_minor, *percent)? / Decimal::ONE_HUNDRED;
                let units = u64::from(std::mem::take(&mut line.free_units));
                line.discount(name, DiscountKind::Item, units, per_unit)?;
            }
            Ok(())
        }
        PromotionRule::AmountOff { skus, amount } => {
            let off = mul(amount.amount, minor_per_major(amount.currency))?;
            for line in lines.iter_mut().filter(|l| l.free_units > 0 && skus.contains(&l.sku)) {
                let per_unit = off.min(line.unit_minor);
                let units = u64::from(std::mem::take(&mut line.free_units));
                line.discount(name, DiscountKind::Item, units, per_unit)?;
            }
            Ok(())
        }
        PromotionRule::BasketPercentOff { .. } => Ok(()),
    }
}

/// Eligible units of one line, as a run in a ranking.
struct Run {
    line: usize,
    count: u64,
}

/// The eligible free units ranked by unit price (highest first when
/// `descending`), ties in cart order.
fn ranked(lines: &[WorkLine], eligible: &dyn Fn(&Sku) -> bool, descending: bool) -> Vec<Run> {
    let mut idx: Vec<usize> =
        (0..lines.len()).filter(|i| lines[*i].free_units > 0 && eligible(&lines[*i].sku)).collect();
    idx.sort_by(|a, b| {
        let by_price = lines[*a].unit_minor.cmp(&lines[*b].unit_minor);
        (if descending { by_price.reverse() } else { by_price }).then(a.cmp(b))
    });
    idx.into_iter().map(|line| Run { line, count: u64::from(lines[line].free_units) }).collect()
}

/// Groups of `group` units, ranked from the most expensive, where the first
/// `paid` of each group pay full price and the rest get `percent` off (the
/// cheapest of the group). Units left over (fewer than a group, the cheapest)
/// stay free for later promotions.
fn group_deal(
    lines: &mut [WorkLine],
    name: &str,
    eligible: &dyn Fn(&Sku) -> bool,
    group: u32,
    paid: u32,
    percent: Decimal,
) -> Result<(), PricingError> {
    let (group, paid) = (u64::from(group), u64::from(paid));
    let runs = ranked(lines, eligible, true);
    let used = runs.iter().map(|r| r.count).sum::<u64>() / group * group;
    // How many of the first `end` ranked units are discounted.
    let rewarded_before = |end: u64| end / group * (group - paid) + (end % group).saturating_sub(paid);
    let mut start = 0;
    for run in runs {
        if start >= used {
            break;
        }
        let end = (start + run.count).min(used);
        let line = &mut lines[run.line];
        line.free_units -= u32::try_from(end - start).expect("at most the line's free units");
        let per_unit = mul(line.unit_minor, percent)? / Decimal::ONE_HUNDRED;
        line.discount(name, DiscountKind::Item, rewarded_before(end) - rewarded_before(start), per_unit)?;
        start += run.count;
    }
    Ok(())
}

/// Buy `buy.1` of `buy.0`, get `get.1` of a different SKU `get.0` at
/// `percent` off. Each complete set of bought units earns one reward of up
/// to `get.1` units; the sets that earned a reward and the rewarded units are
/// taken. Qualifying units are taken from the most expensive, rewarded units
/// from the cheapest.
fn buy_get(
    lines: &mut [WorkLine],
    name: &str,
    buy: (&Sku, u32),
    get: (&Sku, u32),
    percent: Decimal,
) -> Result<(), PricingError> {
    let (buy_n, get_n) = (u64::from(buy.1), u64::from(get.1));
    let buy_runs = ranked(lines, &|s| s == buy.0, true);
    let get_runs = ranked(lines, &|s| s == get.0, false);
    let sets = buy_runs.iter().map(|r| r.count).sum::<u64>() / buy_n;
    let rewarded = (sets * get_n).min(get_runs.iter().map(|r| r.count).sum());
    let mut to_take = rewarded.div_ceil(get_n) * buy_n;
    for run in buy_runs {
        let take = run.count.min(to_take);
        lines[run.line].free_units -= u32::try_from(take).expect("at most the line's free units");
        to_take -= take;
    }
    let mut to_reward = rewarded;
    for run in get_runs {
        let take = run.count.min(to_reward);
        let line = &mut lines[run.line];
        line.free_units -= u32::try_from(take).expect("at most the line's free units");
        let per_unit = mul(line.unit_minor, percent)? / Decimal::ONE_HUNDRED;
        line.discount(name, DiscountKind::Item, take, per_unit)?;
        to_reward -= take;
    }
    Ok(())
}
