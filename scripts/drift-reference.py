#!/usr/bin/env python3
"""Reference values for fleetml's drift statistics (agent/drift/stats.ts).

Run with Debian's SciPy (apt-get install -y python3-scipy python3-numpy):

    /usr/bin/python3 scripts/drift-reference.py

Writes test/fixtures/drift/reference.json: the seeded datasets AND the values SciPy computes
from them (ks_2samp with method='auto', wasserstein_distance, jensenshannon, chisquare,
special.gammaincc) plus PSI from the formula written out below. The "sketch" cases hold data for the
quantile-sketch tests (agent/drift/sketch.ts, test/unit/drift/sketch.test.ts): exact wasserstein_distance, ks_2samp
and numpy quantiles (method='lower', i.e. the element at index floor(q*(n-1)) of the sorted sample) that the sketched
values are compared with under the tolerances stated in that test. Deterministic: numpy's
default_rng with fixed seeds, data rounded to 6 decimals, sorted JSON keys; a rerun gives a
byte-identical file (the header records the numpy/scipy versions used).
"""
import json
import math
import os
import sys

import numpy as np
import scipy
from scipy import special, stats
from scipy.spatial import distance

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "drift", "reference.json")
PSI_EPS = 1e-4
BINS = 10


def num(x):
    """JSON-safe float: non-finite values as strings."""
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def psi(ref_shares, cur_shares, eps=PSI_EPS):
    """PSI = sum_i (cur_i - ref_i) * ln(cur_i / ref_i), shares clipped below at eps."""
    r = np.maximum(np.asarray(ref_shares, dtype=float), eps)
    c = np.maximum(np.asarray(cur_shares, dtype=float), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def edges_from_reference(ref, bins=BINS):
    """Quantile edges of the reference (numpy 'linear'), duplicates removed; constant -> [c, c]."""
    qs = np.quantile(np.asarray(ref, dtype=float), np.arange(bins + 1) / bins)
    edges = []
    for e in qs:
        if not edges or e > edges[-1]:
            edges.append(float(e))
    if len(edges) == 1:
        edges.append(edges[0])
    return edges


def bins_with_overflow(values, edges):
    """[underflow, interior counts (numpy.histogram, last bin closed), overflow]."""
    v = np.asarray(values, dtype=float)
    under = int(np.sum(v < edges[0]))
    over = int(np.sum(v > edges[-1]))
    inside = v[(v >= edges[0]) & (v <= edges[-1])]
    if edges[0] == edges[-1]:
        counts = [int(inside.size)]
    else:
        counts = [int(c) for c in np.histogram(inside, bins=np.asarray(edges))[0]]
    return [under] + counts + [over]


def numeric_case(name, a, b):
    a = [float(x) for x in np.round(np.asarray(a, dtype=float), 6)]
    b = [float(x) for x in np.round(np.asarray(b, dtype=float), 6)]
    ks = stats.ks_2samp(a, b, alternative="two-sided", method="auto")
    method = "exact" if max(len(a), len(b)) <= 10000 else "asymp"
    w = stats.wasserstein_distance(a, b)
    std = float(np.std(a))  # ddof=0, as Evidently's np.std(reference)
    edges = edges_from_reference(a)
    rb = bins_with_overflow(a, edges)
    cb = bins_with_overflow(b, edges)
    rs = np.asarray(rb, dtype=float) / sum(rb)
    cs = np.asarray(cb, dtype=float) / sum(cb)
    return {
        "name": name,
        "a": a,
        "b": b,
        "ks": {"statistic": num(ks.statistic), "pValue": num(ks.pvalue), "method": method},
        "wasserstein": num(w),
        "stdA": num(std),
        "normalisedWasserstein": num(w / max(std, 0.001)),
        "edges": edges,
        "binsA": rb,
        "binsB": cb,
        "psi": num(psi(rs, cs)),
        "jensenshannonBase2": num(distance.jensenshannon(rb, cb, base=2)),
    }


def categorical_case(name, ref, cur):
    keys = sorted(set(ref) | set(cur))
    obs = np.array([cur.get(k, 0) for k in keys], dtype=float)
    refc = np.array([ref.get(k, 0) for k in keys], dtype=float)
    expected = refc * (obs.sum() / refc.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        chi = stats.chisquare(obs, expected)
    rs = refc / refc.sum()
    cs = obs / obs.sum()
    return {
        "name": name,
        "ref": ref,
        "cur": cur,
        "keys": keys,
        "chisquare": {"statistic": num(chi.statistic), "pValue": num(chi.pvalue)},
        "jensenshannonBase2": num(distance.jensenshannon(refc, obs, base=2)),
        "jensenshannonBaseE": num(distance.jensenshannon(refc, obs)),
        "psi": num(psi(rs, cs)),
    }


SKETCH_QS = [0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0]


def sketch_case(name, a, b):
    """Exact values for sketched comparisons: W1, KS (statistic, p-value, method=auto) and 'lower' quantiles."""
    a = [float(x) for x in np.round(np.asarray(a, dtype=float), 6)]
    b = [float(x) for x in np.round(np.asarray(b, dtype=float), 6)]
    ks = stats.ks_2samp(a, b, alternative="two-sided", method="auto")
    w = stats.wasserstein_distance(a, b)
    std = float(np.std(a))
    p = float(ks.pvalue)
    return {
        "name": name,
        "a": a,
        "b": b,
        "ks": {"statistic": num(ks.statistic), "pValue": num(p), "method": "exact" if max(len(a), len(b)) <= 10000 else "asymp"},
        # A clear case: the drift decision at 0.05 must not depend on the sketch's approximation.
        "clear": bool(p < 0.001 or p > 0.2),
        "wasserstein": num(w),
        "stdA": num(std),
        "normalisedWasserstein": num(w / max(std, 0.001)),
        "quantiles": {
            "qs": SKETCH_QS,
            "a": [num(x) for x in np.quantile(np.asarray(a), SKETCH_QS, method="lower")],
            "b": [num(x) for x in np.quantile(np.asarray(b), SKETCH_QS, method="lower")],
        },
    }


def sketch_cases():
    out = []
    rng = np.random.default_rng(20240601)
    out.append(sketch_case("normal_shift", rng.normal(0, 1, 500), rng.normal(0.5, 1, 400)))
    rng = np.random.default_rng(20240602)
    out.append(sketch_case("normal_noshift", rng.normal(5, 2, 500), rng.normal(5, 2, 400)))
    rng = np.random.default_rng(20240603)
    out.append(sketch_case("lognormal_shift", rng.lognormal(0, 1, 600), rng.lognormal(0.4, 1, 500)))
    rng = np.random.default_rng(20240604)
    out.append(sketch_case("lognormal_noshift", rng.lognormal(0, 1, 600), rng.lognormal(0, 1, 500)))
    rng = np.random.default_rng(20240605)
    # Negatives, many exact zeros and ties: integers around 0, a third of them forced to 0.
    a = np.round(rng.normal(0, 3, 400))
    a[rng.random(400) < 0.3] = 0.0
    b = np.round(rng.normal(2, 3, 300))
    b[rng.random(300) < 0.3] = 0.0
    out.append(sketch_case("negatives_zeros_shift", a, b))
    rng = np.random.default_rng(20240606)
    a = rng.normal(-1, 4, 400)
    a[rng.random(400) < 0.2] = 0.0
    b = rng.normal(-1, 4, 350)
    b[rng.random(350) < 0.2] = 0.0
    out.append(sketch_case("negatives_zeros_noshift", a, b))
    rng = np.random.default_rng(20240607)
    # Nine and a half decades: ~550 buckets per sign at alpha 0.02, more than a cap of 256 would keep (it collapsed the
    # lowest magnitudes and broke KS against raw values; the default cap is now 2048).
    out.append(sketch_case("wide_decades", 10 ** rng.uniform(-3, 6, 800), 10 ** rng.uniform(-3, 6.5, 700)))
    rng = np.random.default_rng(20240608)
    # Integer-valued features: heavy ties on both sides (each small integer is alone in its sketch bucket).
    out.append(sketch_case("integers_noshift", rng.poisson(3, 500), rng.poisson(3, 400)))
    rng = np.random.default_rng(20240609)
    out.append(sketch_case("integers_shift", rng.poisson(3, 500), rng.poisson(3.8, 400)))
    out.append(sketch_case("constant_same", np.full(100, 3.0), np.full(80, 3.0)))
    out.append(sketch_case("constant_moved", np.full(100, 3.0), np.full(80, 4.0)))
    out.append(sketch_case("constant_negative_vs_zero", np.full(60, -2.5), np.full(50, 0.0)))
    return out


def counts(rng, cats, probs, n):
    draws = rng.choice(len(cats), size=n, p=probs)
    return {c: int(np.sum(draws == i)) for i, c in enumerate(cats) if np.sum(draws == i) > 0}


def main():
    numeric = []
    rng = np.random.default_rng(20240501)
    numeric.append(numeric_case("normal_shift_small_equal", rng.normal(0, 1, 200), rng.normal(0.3, 1, 200)))
    rng = np.random.default_rng(20240502)
    numeric.append(numeric_case("normal_shift_small_unequal", rng.normal(0, 1, 200), rng.normal(0.3, 1, 150)))
    rng = np.random.default_rng(20240503)
    numeric.append(numeric_case("normal_noshift_small_unequal", rng.normal(5, 2, 300), rng.normal(5, 2, 170)))
    rng = np.random.default_rng(20240504)
    numeric.append(numeric_case("normal_shift_large", rng.normal(0, 1, 5000), rng.normal(0.1, 1, 5000)))
    rng = np.random.default_rng(20240505)
    numeric.append(numeric_case("normal_shift_asymp", rng.normal(0, 1, 12000), rng.normal(0.03, 1, 10500)))
    rng = np.random.default_rng(20240506)
    numeric.append(numeric_case("ties_integers", np.round(rng.normal(10, 3, 300)), np.round(rng.normal(11, 3, 250))))
    rng = np.random.default_rng(20240507)
    same = rng.normal(0, 1, 200)
    numeric.append(numeric_case("identical", same, same))
    numeric.append(numeric_case("constant_same", np.full(100, 3.0), np.full(80, 3.0)))
    numeric.append(numeric_case("constant_moved", np.full(100, 3.0), np.full(80, 4.0)))
    numeric.append(numeric_case("single_values", [1.5], [2.5]))
    rng = np.random.default_rng(20240508)
    numeric.append(numeric_case("single_vs_sample", [0.25], rng.normal(0, 1, 50)))

    categorical = []
    categorical.append(categorical_case("no_drift", {"a": 500, "b": 300, "c": 200}, {"a": 480, "b": 310, "c": 210}))
    categorical.append(categorical_case("drift", {"a": 500, "b": 300, "c": 200}, {"a": 300, "b": 300, "c": 400}))
    categorical.append(categorical_case("unseen_category", {"a": 50, "b": 30, "c": 20}, {"a": 40, "b": 30, "c": 20, "d": 10}))
    categorical.append(categorical_case("vanished_category", {"a": 50, "b": 30, "c": 20}, {"a": 60, "b": 40}))
    rng = np.random.default_rng(20240509)
    cats = ["red", "green", "blue", "cyan", "magenta"]
    categorical.append(categorical_case(
        "sampled",
        counts(rng, cats, [0.4, 0.3, 0.15, 0.1, 0.05], 800),
        counts(rng, cats, [0.35, 0.3, 0.2, 0.1, 0.05], 600),
    ))

    gamma = []
    for a in [0.5, 1.0, 2.5, 10.0, 50.0]:
        for x in [0.01, 0.5, 1.0, 3.0, 10.0, 40.0, 80.0]:
            gamma.append({"a": a, "x": x, "q": num(special.gammaincc(a, x))})

    doc = {
        "_header": (
            f"Generated by scripts/drift-reference.py with numpy {np.__version__}, scipy {scipy.__version__}, "
            f"python {sys.version_info.major}.{sys.version_info.minor}. Do not edit; rerun the script."
        ),
        "psiEps": PSI_EPS,
        "bins": BINS,
        "numeric": numeric,
        "categorical": categorical,
        "gammaincc": gamma,
        "sketch": sketch_cases(),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, sort_keys=True, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
