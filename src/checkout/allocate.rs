//! Splitting a whole number of minor units (or points) over lines or units so
//! the parts add up exactly to the whole.

use super::{PricingError, checked_sum, round_minor};
use rust_decimal::Decimal;

/// Splits `total` over lines in proportion to `weights`.
///
/// Each share is `total * weight / sum(weights)` rounded half away from zero;
/// the residual those roundings leave is then put on the line with the
/// largest weight (ties: the earliest line), spilling to the next-largest only
/// when a line has no room left, so the shares always sum to `total` exactly.
///
/// Preconditions: `total >= 0` and every weight `>= 0`. With `capped`, also
/// `total <= sum(weights)`; then every share is within `0..=weight` (a
/// line's discount never exceeds its amount). Without `capped`, shares are
/// only kept non-negative. When all weights are zero the whole `total` goes
/// to the first line.
pub(crate) fn allocate(total: i64, weights: &[i64], capped: bool) -> Result<Vec<i64>, PricingError> {
    debug_assert!(total >= 0 && weights.iter().all(|w| *w >= 0));
    let sum = checked_sum(weights.iter().copied())?;
    debug_assert!(!capped || total <= sum);
    let mut shares = vec![0_i64; weights.len()];
    if weights.is_empty() || total == 0 {
        return Ok(shares);
    }
    if sum == 0 {
        shares[0] = total;
        return Ok(shares);
    }
    let (t, s) = (Decimal::from(total), Decimal::from(sum));
    for (share, w) in shares.iter_mut().zip(weights) {
        let exact = t.checked_mul(Decimal::from(*w)).ok_or(PricingError::Overflow)? / s;
        *share = round_minor(exact)?;
    }
    let mut residual = total - checked_sum(shares.iter().copied())?;
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| weights[*b].cmp(&weights[*a]).then(a.cmp(b)));
    for i in order {
        if residual == 0 {
            break;
        }
        let take = if residual > 0 {
            let room = if capped { weights[i] - shares[i] } else { residual };
            residual.min(room.max(0))
        } else {
            residual.max(-shares[i])
        };
        shares[i] += take;
        residual -= take;
    }
    debug_assert_eq!(residual, 0, "allocation residual left over");
    Ok(shares)
}

/// The part of `value` that belongs to the first `units` of `of_units` equal
/// units, when `value` is split evenly and the first `value % of_units` units
/// carry one extra minor unit each.
///
/// Monotone in `units`, `0` at `0` and `value` at `of_units`, so successive
/// partial refunds (`share(b) - share(a)`) telescope to the whole and never
/// exceed it; and for `t <= g` every unit's part of `t` is at most its part of
/// `g` (a unit's tax never exceeds its gross).
pub(crate) fn units_share(value: i64, of_units: i64, units: i64) -> i64 {
    debug_assert!(value >= 0 && of_units > 0 && (0..=of_units).contains(&units));
    units * (value / of_units) + units.min(value % of_units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_proportional_and_sum_exactly() {
        assert_eq!(allocate(100, &[300, 300, 300], true).unwrap(), vec![34, 33, 33]);
        assert_eq!(allocate(100, &[1, 1, 1], false).unwrap(), vec![34, 33, 33]);
        assert_eq!(allocate(171, &[798, 1125], true).unwrap(), vec![71, 100]);
        assert_eq!(allocate(0, &[5, 5], true).unwrap(), vec![0, 0]);
        assert_eq!(allocate(0, &[], true).unwrap(), Vec::<i64>::new());
    }

    #[test]
    fn shares_round_half_away_from_zero() {
        // 5 * 1/2 = 2.5 -> 3 on each line, residual -1 taken back from the largest (first) line.
        assert_eq!(allocate(5, &[10, 10], true).unwrap(), vec![2, 3]);
        // 1 * 1/2 = 0.5 -> 1 each: the surplus comes off the earliest of the equal lines.
        assert_eq!(allocate(1, &[4, 4], true).unwrap(), vec![0, 1]);
    }

    #[test]
    fn residual_goes_to_the_largest_line_and_spills_when_full() {
        // 3 * w / 6 for w = 1, 2, 3 -> 0.5, 1, 1.5 -> 1, 1, 2: sums to 4, residual -1 on the largest line.
        assert_eq!(allocate(3, &[1, 2, 3], true).unwrap(), vec![1, 1, 1]);
        // The whole amount: every line gets exactly its weight.
        assert_eq!(allocate(9, &[2, 3, 4], true).unwrap(), vec![2, 3, 4]);
        // Uncapped (points): may exceed a weight, never goes negative.
        assert_eq!(allocate(2, &[1, 1, 1, 1], false).unwrap(), vec![0, 0, 1, 1]);
        assert_eq!(allocate(500, &[1, 0], false).unwrap(), vec![500, 0]);
        assert_eq!(allocate(3, &[0, 0], false).unwrap(), vec![3, 0]);
    }

    #[test]
    fn unit_shares_telescope_and_stay_ordered() {
        let parts: Vec<i64> = (1..=3).map(|u| units_share(498, 3, u) - units_share(498, 3, u - 1)).collect();
        assert_eq!(parts, vec![166, 166, 166]);
        let parts: Vec<i64> = (1..=4).map(|u| units_share(7, 4, u) - units_share(7, 4, u - 1)).collect();
        assert_eq!(parts, vec![2, 2, 2, 1]);
        for (t, g) in [(2, 3), (3, 4), (0, 5), (5, 5), (1, 9)] {
            for u in 1..=4 {
                let tu = units_share(t, 4, u) - units_share(t, 4, u - 1);
                let gu = units_share(g, 4, u) - units_share(g, 4, u - 1);
                assert!(tu <= gu, "t={t} g={g} unit {u}");
            }
        }
    }
}
