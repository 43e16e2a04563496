//! Gated minimum-cost assignment (rows to columns, each used at most once)
//! through `pathfinding`'s Kuhn-Munkres. A pair whose cost is `None` (or not
//! finite) is forbidden; every row may also stay unassigned at cost
//! `unassigned`, so a forbidden or too-dear pair is never forced.

use pathfinding::kuhn_munkres::kuhn_munkres_min;
use pathfinding::matrix::Matrix;

/// Costs are fixed-point for the integer solver: 1e-6 resolution.
const SCALE: f64 = 1e6;

/// `costs[r][c]`: the cost of giving row `r` column `c`. Returns, per row,
/// its column or `None`. Ties break towards lower indices (deterministic).
pub fn assign(costs: &[Vec<Option<f64>>], cols: usize, unassigned: f64) -> Vec<Option<usize>> {
    let rows = costs.len();
    if rows == 0 || cols == 0 {
        return vec![None; rows];
    }
    let fixed = |c: f64| (c.clamp(0.0, 1e6) * SCALE).round() as i64;
    let stay = fixed(unassigned);
    // Forbidden pairs cost more than every row staying unassigned together.
    let forbidden = stay.saturating_add(1).saturating_mul(rows as i64 + 1);
    // Columns: the real ones, then one "unassigned" slot per row.
    let width = cols + rows;
    let mut m = Matrix::new(rows, width, forbidden);
    for (r, row) in costs.iter().enumerate() {
        for c in 0..cols {
            if let Some(cost) = row.get(c).copied().flatten().filter(|v| v.is_finite() && *v <= unassigned) {
                m[(r, c)] = fixed(cost);
            }
        }
        m[(r, cols + r)] = stay;
    }
    let (_, picks) = kuhn_munkres_min(&m);
    picks.into_iter().map(|c| (c < cols).then_some(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_global_optimum_not_the_greedy_one() {
        // Greedy would give row 0 column 0 (1.0) and leave row 1 with 9.0.
        let costs = vec![vec![Some(1.0), Some(2.0)], vec![Some(1.5), Some(9.0)]];
        assert_eq!(assign(&costs, 2, 10.0), vec![Some(1), Some(0)]);
    }

    #[test]
    fn forbidden_and_too_dear_pairs_stay_unassigned() {
        let costs = vec![vec![None, Some(5.0)], vec![Some(0.5), None], vec![Some(0.4), None]];
        // row 0's only option costs more than staying unassigned (3.0)
        assert_eq!(assign(&costs, 2, 3.0), vec![None, None, Some(0)]);
        assert_eq!(assign(&[], 3, 1.0), Vec::<Option<usize>>::new());
        assert_eq!(assign(&[vec![]], 0, 1.0), vec![None]);
    }

    #[test]
    fn more_rows_than_columns_and_nan_costs() {
        let costs = vec![vec![Some(0.2)], vec![Some(0.1)], vec![Some(f64::NAN)]];
        assert_eq!(assign(&costs, 1, 1.0), vec![None, Some(0), None]);
    }
}
