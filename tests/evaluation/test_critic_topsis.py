"""CRITIC weights and TOPSIS closeness against an independent implementation (pymcdm) and by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pymcdm.methods import TOPSIS
from pymcdm.normalizations import vector_normalization
from pymcdm.weights import critic_weights as pymcdm_critic

from anju.evaluation.critic_topsis import CriticUndefined, competition_ranks, critic_weights, topsis_closeness

TOL = 1e-9


def _random(rng: np.random.Generator, m: int, n: int, constant: int) -> np.ndarray:
    x = rng.uniform(0, 100, size=(m, n))
    # a few columns in steps like real scores (ties), and some constant columns
    x[:, : n // 3] = np.round(x[:, : n // 3] / 5) * 5
    for j in rng.choice(n, size=constant, replace=False):
        x[:, j] = rng.choice([0.0, 50.0, 100.0])
    return x


def _pymcdm_topsis(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        # pymcdm warns when float weights sum to 0.9999999999999999 instead of 1
        warnings.simplefilter("ignore")
        return np.asarray(TOPSIS(vector_normalization)(x, w, np.ones(x.shape[1])))


@pytest.mark.parametrize("seed", range(12))
def test_critic_and_topsis_equal_pymcdm(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(3, 60)), int(rng.integers(2, 33))
    constant = int(rng.integers(0, max(1, n // 3)))
    x = _random(rng, m, n, constant)
    ours = critic_weights(x)
    varying = np.ptp(x, axis=0) > 0
    # pymcdm's CRITIC has no rule for constant columns: their correlations are 0/0, so every weight turns
    # NaN. The method's own rule (a constant column carries no information) is weight 0 and no part in
    # the correlations; so compare on the varying submatrix, and check the constant columns weigh 0.
    assert np.all(ours[~varying] == 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = pymcdm_critic(x[:, varying])
    np.testing.assert_allclose(ours[varying], theirs, rtol=0, atol=TOL)
    assert ours.sum() == pytest.approx(1.0, abs=TOL)
    if constant:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert np.isnan(pymcdm_critic(x)).all()  # what pymcdm does with the whole matrix
    # TOPSIS on the whole matrix (constant columns included: they weigh 0). pymcdm's vector normalisation
    # of an all-zero column is 0/0, so compare on the columns that are not all zero.
    nonzero = np.any(x != 0, axis=0)
    ref = _pymcdm_topsis(x[:, nonzero], ours[nonzero])
    np.testing.assert_allclose(topsis_closeness(x, ours), ref, rtol=0, atol=TOL)


def test_topsis_with_given_weights_equals_pymcdm() -> None:
    rng = np.random.default_rng(99)
    x = rng.uniform(1, 100, size=(25, 32))
    w = rng.uniform(0, 1, size=32)
    w /= w.sum()
    ref = _pymcdm_topsis(x, w)
    np.testing.assert_allclose(topsis_closeness(x, w), ref, rtol=0, atol=TOL)


def test_hand_worked_critic() -> None:
    # three communities, two indicators moving in opposite directions, one constant:
    #   x = [[0, 100, 50], [50, 50, 50], [100, 0, 50]]
    # min-max: columns 1 and 2 become [0, .5, 1] and [1, .5, 0]; sample std of each = 0.5
    # r(1, 2) = -1, so conflict = (1 - 1) + (1 - (-1)) = 2 for each; C = 0.5 x 2 = 1 for each
    # weights: 1/2, 1/2, and 0 for the constant column
    x = np.array([[0, 100, 50], [50, 50, 50], [100, 0, 50]], dtype=float)
    np.testing.assert_allclose(critic_weights(x), [0.5, 0.5, 0.0], atol=TOL)


def test_hand_worked_topsis() -> None:
    # x = [[3, 4], [4, 3]], weights 1/2 each; column norms sqrt(3² + 4²) = 5
    # weighted normalised: [[.3, .4], [.4, .3]]; best (.4, .4), worst (.3, .3)
    # D+ = sqrt(.1² + 0) = .1 and D- = sqrt(0 + .1²) = .1 for both: C = .1 / .2 = 0.5
    x = np.array([[3, 4], [4, 3]], dtype=float)
    np.testing.assert_allclose(topsis_closeness(x, np.array([0.5, 0.5])), [0.5, 0.5], atol=TOL)
    # x = [[0, 0], [5, 5]]: the second is the ideal (C = 1), the first the anti-ideal (C = 0)
    y = np.array([[0, 0], [5, 5]], dtype=float)
    np.testing.assert_allclose(topsis_closeness(y, np.array([0.5, 0.5])), [0.0, 1.0], atol=TOL)


def test_identical_communities_have_no_closeness() -> None:
    x = np.full((4, 3), 60.0)
    assert np.isnan(topsis_closeness(x, np.full(3, 1 / 3))).all()
    with pytest.raises(CriticUndefined):
        critic_weights(x)


def test_critic_needs_conflict() -> None:
    # only one column varies: its conflict with itself is 0, CRITIC gives 0/0
    x = np.array([[1, 5], [2, 5], [3, 5]], dtype=float)
    with pytest.raises(CriticUndefined):
        critic_weights(x)
    with pytest.raises(CriticUndefined):
        critic_weights(np.array([[1.0, 2.0]]))


def test_competition_ranks() -> None:
    assert competition_ranks(np.array([0.2, 0.9, 0.5, 0.9])) == [4, 1, 3, 1]
    assert competition_ranks(np.array([np.nan, np.nan])) == [1, 1]


def test_scale_is_vectorised() -> None:
    # the benchmark's shape: 10,000 communities x 32 indicators well inside a second
    import time

    x = np.random.default_rng(1).integers(0, 21, size=(10_000, 32)).astype(float) * 5
    t = time.perf_counter()
    topsis_closeness(x, critic_weights(x))
    assert time.perf_counter() - t < 1.0
