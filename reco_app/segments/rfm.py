"""RFM: recency, frequency and monetary scores from purchases, and named RFM segments.

Each buyer gets three scores from 1 to ``SEGMENTS_RFM_BINS`` by rank among all buyers
(quintiles by default; ties share a score): R (recent = high), F (orders = purchase days),
M (spend). The named segment comes from R and FM = round((F + M) / 2), looked up in
``SEGMENTS_RFM_NAMES`` on a 1-5 scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from reco_app import conf
from reco_app.models.segments import SegmentKind
from reco_app.segments.history import History
from reco_app.segments.profile import Profile, build_profile
from reco_app.segments.types import SegmentResult


@dataclass
class RFMScores:
    buyers: np.ndarray  # subject ids
    r: np.ndarray
    f: np.ndarray
    m: np.ndarray
    fm: np.ndarray
    names: np.ndarray  # segment key per buyer ("" when no name matches)


def quantile_scores(x: np.ndarray, bins: int) -> np.ndarray:
    """Score 1..bins by rank (higher x → higher score); equal values share a score."""
    if len(x) == 0:
        return np.zeros(0, int)
    ranks = rankdata(x, method="average")
    return np.clip(np.ceil(ranks / len(x) * bins), 1, bins).astype(int)


def _to_five(scores: np.ndarray, bins: int) -> np.ndarray:
    return np.clip(np.ceil(scores * 5 / bins), 1, 5).astype(int)


def score(h: History, profile: Profile | None = None) -> RFMScores:
    p = profile or build_profile(h)
    bins = int(conf.get("SEGMENTS_RFM_BINS"))
    buyers = np.flatnonzero(p.orders > 0)
    r = quantile_scores(-p.days_since_purchase[buyers], bins)
    f = quantile_scores(p.orders[buyers], bins)
    m = quantile_scores(p.spend[buyers], bins)
    fm = np.floor((f + m) / 2 + 0.5).astype(int)
    r5, fm5 = _to_five(r, bins), _to_five(fm, bins)
    names = np.full(len(buyers), "", dtype=object)
    for key, _name, r_scores, fm_scores in conf.get("SEGMENTS_RFM_NAMES"):
        hit = (names == "") & np.isin(r5, r_scores) & np.isin(fm5, fm_scores)
        names[hit] = key
    return RFMScores(buyers, r, f, m, fm, names)


def compute(h: History, profile: Profile | None = None) -> list[SegmentResult]:
    p = profile or build_profile(h)
    s = score(h, p)
    results = []
    for key, name, r_scores, fm_scores in conf.get("SEGMENTS_RFM_NAMES"):
        hit = np.flatnonzero(s.names == key)
        ids = s.buyers[hit]
        reasons = [
            f"R{r} F{f} M{m}: last purchase {d:.0f} days ago, {o:.0f} orders, {sp:.2f} spent"
            for r, f, m, d, o, sp in zip(
                s.r[hit].tolist(), s.f[hit].tolist(), s.m[hit].tolist(),
                p.days_since_purchase[ids].tolist(), p.orders[ids].tolist(), p.spend[ids].tolist(),
            )
        ]
        description = f"Buyers with recency score {_span(r_scores)} and frequency-monetary score {_span(fm_scores)} (1-5, 5 = best)."
        results.append(SegmentResult(f"rfm:{key}", name, SegmentKind.RFM, description, ids, (s.r[hit] * 100 + s.f[hit] * 10 + s.m[hit]).astype(float), reasons))
    return results


def _span(scores: list[int]) -> str:
    lo, hi = min(scores), max(scores)
    return str(lo) if lo == hi else f"{lo}-{hi}"
