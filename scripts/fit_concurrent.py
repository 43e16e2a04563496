#!/usr/bin/env python3
"""Fit the scale of the concurrent-event model (src/fusion/concurrent.rs).

Input: the JSON reports of `walkout bench accuracy --evidence`, which keep,
for every shelf event matched to a true hand action, every track's nearest
hand distance to the changed plates over time and whether the track followed
the person who really touched the shelf.

A pair is two matched events on one gondola starting within `within_s` of
each other, on plates that do not overlap, made by two different people
whose tracks are both among the candidates of both events. For each pair it
computes the swap statistic as `concurrent::swap_statistic` does (each
track's mean over its samples in the window of d(own event)² − d(other
event)², distances capped; the truth's way round, so negative is right), and
then, for each scale k on a grid, the log-loss of P(right) = 1 / (1 + exp(k S)),
how many pairs would be left under the review threshold, and how many would
be decided the wrong way round at or above it. Fit on some seeds, check on
others:

    scripts/fit_concurrent.py --fit out/fit/accuracy-*-seed{7,8,9,10,11,12}.json \
        --check out/check/accuracy-*-seed{1,2,3,4,5,6}.json

Plain Python (no numpy needed).
"""

import argparse
import json
import math

# As in ConcurrentParams::default().
WITHIN_S = 2.0
BEFORE_S = 0.2
AFTER_S = 1.0
CAP_M = 0.3


def gondola(plates):
    return plates.split(".")[0]


def pair_statistics(paths):
    """The swap statistic of every true pair in the reports (negative: right)."""
    out = []
    for path in paths:
        with open(path) as f:
            report = json.load(f)
        cases = report["attribution"].get("fit_cases", [])
        if not cases:
            raise SystemExit(f"{path}: no fit cases (run the bench with --evidence)")
        for i, e in enumerate(cases):
            for o in cases[i + 1 :]:
                if gondola(o["plates"]) != gondola(e["plates"]) or abs(o["t"] - e["t"]) > WITHIN_S:
                    continue
                if o["plates"] == e["plates"]:
                    continue
                s = statistic(e, o)
                if s is not None:
                    out.append((report["scenario"], report["seed"], e["t"], e["plates"], o["plates"], s))
    return out


def statistic(e, o):
    actor = lambda case: next((c["track"] for c in case["candidates"] if c["actor"]), None)
    a, b = actor(e), actor(o)
    if a is None or b is None or a == b:
        return None
    in_e = {c["track"]: c for c in e["candidates"]}
    in_o = {c["track"]: c for c in o["candidates"]}
    if b not in in_e or a not in in_o:
        return None
    lo, hi = min(e["t"], o["t"]) - BEFORE_S, max(e["t"], o["t"]) + AFTER_S

    def by_time(case, t0):
        return {round(t0 + dt, 3): min(d, CAP_M) for dt, d in case["hands"]}

    def leaning(near, far):
        total, n = 0.0, 0
        for t, d in near.items():
            if lo <= t <= hi and t in far:
                total += d * d - far[t] ** 2
                n += 1
        return total / n if n else None

    sa = leaning(by_time(in_e[a], e["t"]), by_time(in_o[a], o["t"]))
    sb = leaning(by_time(in_o[b], o["t"]), by_time(in_e[b], e["t"]))
    if sa is None or sb is None:
        return None
    return sa + sb


def table(stats, scales, review_below):
    rows = []
    for k in scales:
        loss, under, wrong = 0.0, 0, 0
        for *_, s in stats:
            p_right = 1.0 / (1.0 + math.exp(min(k * s, 700.0)))
            loss -= math.log(max(p_right, 1e-300))
            under += max(p_right, 1.0 - p_right) < review_below
            wrong += (1.0 - p_right) >= review_below
        rows.append((k, loss / max(len(stats), 1), under, wrong))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fit", nargs="+", required=True)
    ap.add_argument("--check", nargs="*", default=[])
    ap.add_argument("--review-below", type=float, default=0.9)
    ap.add_argument("--wrong-cost", type=float, default=10.0)
    args = ap.parse_args()
    scales = [100, 200, 300, 500, 700, 1000, 1500, 2000, 3000, 5000]
    fit = pair_statistics(args.fit)
    print(f"fit: {len(fit)} pairs, {sum(s < 0 for *_, s in fit)} the right way round")
    print("scale  log-loss  under-threshold  wrong-at-or-above")
    rows = table(fit, scales, args.review_below)
    for k, loss, under, wrong in rows:
        print(f"{k:5d}  {loss:8.4f}  {under:15d}  {wrong:17d}")
    best = min(rows, key=lambda r: (r[2] + args.wrong_cost * r[3], r[1]))
    print(f"chosen (fewest under-threshold + {args.wrong_cost:g} x wrong, then log-loss): {best[0]}")
    if args.check:
        check = pair_statistics(args.check)
        print(f"check: {len(check)} pairs, {sum(s < 0 for *_, s in check)} the right way round")
        for k, loss, under, wrong in table(check, [best[0]], args.review_below):
            print(f"{k:5d}  {loss:8.4f}  {under:15d}  {wrong:17d}")
        for scenario, seed, t, pe, po, s in sorted(check, key=lambda r: -r[5])[:5]:
            print(f"  least right: {scenario} seed {seed} t {t:.1f} {pe} / {po}: {s:+.4f} m2")


if __name__ == "__main__":
    main()
