#!/usr/bin/env python3
"""Fit the attribution model (src/fusion/attribute.rs) on simulated evidence.

Input: the JSON reports of `walkout bench accuracy --evidence --no-hand-crops`
(hand crops are weighed after the hand score, which this does not model), which keep,
for every shelf event matched to a true hand action, every track's hand
distances to the changed plates over time, its body distance, the party of
the visit it was linked to, and the party that really touched the shelf.

This re-implements the model's score and fusion's per-visit pooling (the
same formulas as `attribute::score` and `Fusion::decide`) vectorised over all
events, and grid-searches the constants for the fewest events sent to
review plus `--wrong-cost` times the events that go to the wrong visit (or
to nobody) without a flag. Fit on some seeds, check on others:

    scripts/fit_attribution.py --fit out/fit/accuracy-*-seed{3,4,5,6}.json \
        --check out/check/accuracy-*-seed{1,2}.json

To judge the current constants with some changed, instead of the grid:

    scripts/fit_attribution.py --fit ... --check ... --variant hidden_hold_s=0 --variant hand_sigma_m=0.02

Needs numpy (`make bench-setup` installs it in .local/venv).
"""

import argparse
import itertools
import json
import sys

import numpy as np

# The model's constants as in AttributionParams::default(), plus the
# engine's thresholds (FusionParams, config `fusion.*`).
CURRENT = dict(
    hand_sigma_m=0.03,
    nobody_distance_m=0.12,
    tail_share=0.0,
    tail_sigma_m=0.06,
    touch_offset_s=0.4,
    touch_sigma_s=0.6,
    hand_window_s=0.5,
    hand_trim=0.25,
    body_sigma_m=0.3,
    arm_reach_m=0.8,
    body_only_weight=0.3,
    hidden_hand_weight=0.03,
    hidden_hold_s=1.0,
    held_within_m=0.03,
)
MIN_ATTRIBUTION_P = 0.6
NOBODY_BELOW_P = 0.05
TINY = np.finfo(float).tiny


def gauss(d, sigma):
    return np.exp(-(d * d) / (2.0 * sigma * sigma))


class Evidence:
    """All events' candidates and samples, flattened for numpy."""

    def __init__(self, paths):
        events, cands, samples = [], [], []
        for path in paths:
            with open(path) as f:
                report = json.load(f)
            for case in report["attribution"].get("fit_cases", []):
                e = len(events)
                events.append((case["truth_party"], case["p_product"], f"{path}:{case['t']:.1f}"))
                for c in case["candidates"]:
                    cands.append((e, -1 if c["party"] is None else c["party"], c["body_distance_m"], c["actor"]))
                    s = np.array(c["hands"], dtype=float).reshape(-1, 2)
                    seen = np.array(c.get("hands_seen", [2] * len(s)), dtype=float).reshape(-1, 1)
                    samples.append(np.hstack([s, seen]))
        if not events:
            sys.exit(f"no fit_cases in {paths}: run `walkout bench accuracy --evidence`")
        self.truth = np.array([e[0] for e in events])
        self.p_product = np.array([e[1] for e in events])
        self.names = [e[2] for e in events]
        self.cand_event = np.array([c[0] for c in cands])
        self.cand_party = np.array([c[1] for c in cands])
        self.cand_body = np.array([c[2] for c in cands])
        self.cand_actor = np.array([c[3] for c in cands])
        self.cand_n = np.array([len(s) for s in samples])
        self.cand_start = np.concatenate([[0], np.cumsum(self.cand_n)[:-1]])
        flat = np.concatenate(samples) if samples else np.zeros((0, 3))
        self.dt, self.d, self.seen = flat[:, 0], flat[:, 1], flat[:, 2]
        self.samples = samples
        self._windows = {}
        self._carried = {}

    def carried(self, hold_s, within_m):
        """Every sample's hand distance as the score takes it: a hand seen
        within `within_m` of the volume that then goes unseen (fewer hands
        seen than then) is taken to stay there for up to `hold_s`
        (`attribute::held_in_shelf`)."""
        key = (hold_s, within_m)
        if key in self._carried:
            return self._carried[key]
        out = []
        for s in self.samples:
            d_eff = s[:, 1].copy()
            carried = None
            for i, (dt, d, seen) in enumerate(s):
                if carried is not None and seen < carried[2] and dt - carried[1] <= hold_s + 1e-9:
                    d_eff[i] = min(d, carried[0])
                if d <= within_m:
                    carried = (d, dt, seen)
                elif carried is not None and seen >= carried[2]:
                    carried = None
            out.append(d_eff)
        d = np.concatenate(out) if out else np.zeros(0)
        self._carried[key] = d
        return d

    def window(self, hand_window_s, hand_trim, hold=(0.0, 0.0)):
        """For every sample as a stretch's middle: the samples it keeps
        (within half a window, worst `trim` share dropped) and their weights."""
        key = (hand_window_s, hand_trim, hold)
        carried = self.carried(*hold)
        if key in self._windows:
            return self._windows[key]
        rows, cols, weights = [], [], []
        half = hand_window_s / 2.0
        for start, s in zip(self.cand_start, self.samples):
            if len(s) == 0:
                continue
            dt, d = s[:, 0], carried[start : start + len(s)]
            for i in range(len(s)):
                members = np.nonzero(np.abs(dt - dt[i]) <= half + 1e-9)[0]
                # Lowest closeness first = farthest first.
                members = members[np.argsort(-d[members], kind="stable")]
                drop = min(int(np.floor(len(members) * min(max(hand_trim, 0.0), 0.9))), len(members) - 1)
                kept = members[drop:]
                rows.append(np.full(len(kept), start + i))
                cols.append(start + kept)
                weights.append(np.full(len(kept), 1.0 / len(kept)))
        w = (np.concatenate(rows), np.concatenate(cols), np.concatenate(weights))
        self._windows[key] = w
        return w

    def visit_probabilities(self, p):
        """Per event: the best linked party, its probability, and the truth's."""
        hold = (p["hidden_hold_s"], p["held_within_m"])
        rows, cols, weights = self.window(p["hand_window_s"], p["hand_trim"], hold)
        d = self.carried(*hold)
        close = (1.0 - p["tail_share"]) * gauss(d, p["hand_sigma_m"]) + p["tail_share"] * gauss(d, p["tail_sigma_m"])
        ln = np.log(np.maximum(close, TINY))
        stretch_ln = np.bincount(rows, weights=weights * ln[cols], minlength=len(self.d))
        stretch = np.exp(stretch_ln) * gauss(self.dt - p["touch_offset_s"], p["touch_sigma_s"])
        has = self.cand_n > 0
        hand = np.zeros(len(self.cand_n))
        if has.any():
            hand[has] = np.maximum.reduceat(stretch, self.cand_start[has])
        nobody = (1.0 - p["tail_share"]) * gauss(p["nobody_distance_m"], p["hand_sigma_m"]) + p[
            "tail_share"
        ] * gauss(p["nobody_distance_m"], p["tail_sigma_m"])
        in_reach = gauss(np.maximum(self.cand_body - p["arm_reach_m"], 0.0), p["body_sigma_m"])
        # A track that showed one hand around the touch may have had the
        # other in the shelf, hidden: it keeps a body-like share.
        when = gauss(self.dt - p["touch_offset_s"], p["touch_sigma_s"])
        hidden = np.zeros(len(self.cand_n))
        if has.any():
            one = np.add.reduceat(when * (self.seen < 2), self.cand_start[has])
            all_ = np.add.reduceat(when, self.cand_start[has])
            hidden[has] = one / np.maximum(all_, 1e-12)
        seen_score = np.maximum(np.maximum(hand, nobody * in_reach), p["hidden_hand_weight"] * hidden * in_reach)
        score = np.where(has, seen_score, p["body_only_weight"] * in_reach)
        linked = self.cand_party >= 0
        n = len(self.truth)
        total = np.bincount(self.cand_event[linked], weights=score[linked], minlength=n) + nobody
        # Pool each visit's tracks.
        keys = self.cand_event[linked].astype(np.int64) * 1_000_000 + self.cand_party[linked]
        uniq, inv = np.unique(keys, return_inverse=True)
        pooled = np.bincount(inv, weights=score[linked]) / total[uniq // 1_000_000]
        ev, party = uniq // 1_000_000, uniq % 1_000_000
        best_p = np.zeros(n)
        best_party = np.full(n, -1)
        order = np.lexsort((-pooled, ev))
        first = np.ones(len(order), bool)
        first[1:] = ev[order][1:] != ev[order][:-1]
        best_p[ev[order][first]] = pooled[order][first]
        best_party[ev[order][first]] = party[order][first]
        truth_p = np.zeros(n)
        is_truth = party == self.truth[ev]
        truth_p[ev[is_truth]] = pooled[is_truth]
        return best_p, best_party, truth_p

    def judge(self, p, review_below=0.9, wrong_cost=10.0):
        best_p, best_party, truth_p = self.visit_probabilities(p)
        stock_only = best_p < NOBODY_BELOW_P
        confidence = best_p * self.p_product
        review = ~stock_only & ((confidence < review_below) | (best_p < MIN_ATTRIBUTION_P))
        wrong = best_party != self.truth
        wrong_unflagged = (wrong & ~review) | stock_only
        n = len(self.truth)
        return dict(
            events=n,
            review=int(review.sum()),
            review_rate=float(review.mean()),
            review_by_product_only=int((review & (best_p >= review_below)).sum()),
            wrong_unflagged=int(wrong_unflagged.sum()),
            wrong=int(wrong.sum()),
            log_loss=float(-np.mean(np.log(np.maximum(truth_p, 1e-6)))),
            cost=float(review.sum() + wrong_cost * wrong_unflagged.sum()),
        )


GRID = dict(
    hand_sigma_m=[0.02, 0.03, 0.04],
    nobody_distance_m=None,  # as a multiple of hand_sigma_m, below
    tail_share=[0.0, 0.02],
    tail_sigma_m=[0.05],
    touch_offset_s=[0.2, 0.4, 0.6],
    touch_sigma_s=[0.4, 0.6, 0.9],
    hand_window_s=[0.3, 0.5],
    hand_trim=[0.1, 0.25],
    hidden_hand_weight=[0.0, 0.01, 0.03, 0.1],
)
NOBODY_SIGMAS = [3.0, 4.0, 5.0]


def candidates():
    keys = [k for k in GRID if k != "nobody_distance_m"]
    for values in itertools.product(*(GRID[k] for k in keys)):
        p = dict(CURRENT, **dict(zip(keys, values)))
        if p["tail_share"] == 0.0 and p["tail_sigma_m"] != GRID["tail_sigma_m"][0]:
            continue
        for k in NOBODY_SIGMAS:
            yield dict(p, nobody_distance_m=round(k * p["hand_sigma_m"], 4))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fit", nargs="+", required=True, help="reports to fit on")
    ap.add_argument("--check", nargs="*", default=[], help="reports to check the fit on")
    ap.add_argument("--wrong-cost", type=float, default=10.0)
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        help="judge the current constants with these changed (`name=value,...`) instead of the grid search",
    )
    args = ap.parse_args()
    fit = Evidence(args.fit)
    check = Evidence(args.check) if args.check else None
    if args.variant:
        for v in ["", *args.variant]:
            p = dict(CURRENT, **{k: float(x) for k, x in (kv.split("=") for kv in v.split(",") if kv)})
            row = dict(variant=v or "current", fit=fit.judge(p, wrong_cost=args.wrong_cost))
            if check:
                row["check"] = check.judge(p, wrong_cost=args.wrong_cost)
            print(json.dumps(row))
        return
    results = []
    for p in candidates():
        results.append((fit.judge(p, wrong_cost=args.wrong_cost)["cost"], p))
    results.sort(key=lambda r: r[0])
    out = dict(current=dict(params=CURRENT, fit=fit.judge(CURRENT, wrong_cost=args.wrong_cost)), best=[])
    if check:
        out["current"]["check"] = check.judge(CURRENT, wrong_cost=args.wrong_cost)
    for _, p in results[: args.top]:
        row = dict(params=p, fit=fit.judge(p, wrong_cost=args.wrong_cost))
        if check:
            row["check"] = check.judge(p, wrong_cost=args.wrong_cost)
        out["best"].append(row)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
