"""CRITIC weights and TOPSIS closeness, vectorised with numpy (rows: communities, columns: indicators).

CRITIC (Diakoulaki et al. 1995), as the paper applies it:
  1. min-max normalise each column: z = (x - min) / (max - min);
  2. contrast of column j: the standard deviation of z_j — the *sample* one (ddof=1), as pymcdm's
     `critic_weights` computes it, so the two agree to rounding;
  3. conflict of column j: Σ_k (1 - r_jk) over the other columns k, r the Pearson correlation of z;
  4. C_j = contrast_j x conflict_j, w_j = C_j / Σ C.
A constant column (max = min) carries no information: its weight is 0 and it is left out of the
correlations (pymcdm would give NaN for every weight: 0/0 in the correlation).

TOPSIS: vector-normalise each column (x / sqrt(Σ x²)), multiply by the weights, take the column maxima as
the ideal best and the minima as the ideal worst (every indicator is a benefit: more points are better),
D⁺ and D⁻ the Euclidean distances to them, closeness C = D⁻ / (D⁺ + D⁻).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float64]
Vector = NDArray[np.float64]


class CriticUndefined(ValueError):
    """CRITIC cannot weigh this matrix (fewer than two rows, or no column that varies and conflicts)."""


def constant_columns(matrix: Matrix) -> NDArray[np.bool_]:
    return np.ptp(matrix, axis=0) == 0  # type: ignore[no-any-return]


def critic_weights(matrix: Matrix) -> Vector:
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise CriticUndefined("CRITIC needs at least two communities")
    varying = ~constant_columns(x)
    weights = np.zeros(x.shape[1], dtype=np.float64)
    if not varying.any():
        raise CriticUndefined("every indicator has the same score in every community")
    z = x[:, varying]
    lo = z.min(axis=0)
    z = (z - lo) / (z.max(axis=0) - lo)
    contrast = z.std(axis=0, ddof=1)
    centred = z - z.mean(axis=0)
    norms = np.sqrt((centred * centred).sum(axis=0))
    r = (centred.T @ centred) / np.outer(norms, norms)
    np.clip(r, -1.0, 1.0, out=r)
    np.fill_diagonal(r, 1.0)  # exactly: a column does not conflict with itself, not even by rounding
    conflict = (1.0 - r).sum(axis=0)
    c = contrast * conflict
    total = c.sum()
    if not total > 0:
        # one varying column alone has no conflict (1 - r_jj = 0): the method gives 0/0
        raise CriticUndefined(
            "the varying indicators carry no conflict (only one varies, or all move together)"
        )
    weights[varying] = c / total
    return weights


def topsis_closeness(matrix: Matrix, weights: Vector) -> Vector:
    """Closeness of each row to the ideal; NaN where best and worst coincide (no spread at all)."""
    x = np.asarray(matrix, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    norms = np.sqrt((x * x).sum(axis=0))
    # an all-zero column normalises to zeros, not 0/0: it cannot separate communities anyway
    safe = np.where(norms > 0, norms, 1.0)
    v = (x / safe) * w
    best = v.max(axis=0)
    worst = v.min(axis=0)
    d_plus = np.sqrt(((v - best) ** 2).sum(axis=1))
    d_minus = np.sqrt(((v - worst) ** 2).sum(axis=1))
    denom = d_plus + d_minus
    with np.errstate(invalid="ignore", divide="ignore"):
        closeness = np.where(denom > 0, d_minus / np.where(denom > 0, denom, 1.0), np.nan)
    return closeness


def competition_ranks(values: Vector) -> list[int]:
    """1 for the largest; equal values share a rank and the next rank skips (1, 2, 2, 4); NaN ties all."""
    v = np.where(np.isnan(values), -np.inf, np.round(values, 12))
    order = np.argsort(-v, kind="stable")
    ranks = [0] * len(v)
    for pos, idx in enumerate(order):
        if pos > 0 and v[idx] == v[order[pos - 1]]:
            ranks[idx] = ranks[order[pos - 1]]
        else:
            ranks[idx] = pos + 1
    return ranks
