"""Distribution drift of one column against a reference: PSI, Kolmogorov-Smirnov, chi-square."""

from __future__ import annotations

from typing import Any

DEFAULT_THRESHOLD = {"psi": 0.2, "ks": 0.1, "chi2": 0.05}
EPSILON = 1e-6  # keeps PSI finite where a bin is empty on one side


def psi_numeric(current: Any, reference: Any, bins: int = 10) -> float:
    """Population stability index over the reference's quantile bins."""
    import numpy as np

    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    expected = np.histogram(reference, edges)[0] / len(reference)
    actual = np.histogram(current, edges)[0] / len(current)
    return _psi(actual, expected)


def psi_categorical(current: dict[Any, int], reference: dict[Any, int]) -> float:
    import numpy as np

    categories = sorted(set(current) | set(reference), key=str)
    actual = np.array([current.get(c, 0) for c in categories], dtype=float)
    expected = np.array([reference.get(c, 0) for c in categories], dtype=float)
    return _psi(actual / actual.sum(), expected / expected.sum())


def _psi(actual: Any, expected: Any) -> float:
    import numpy as np

    actual, expected = np.clip(actual, EPSILON, None), np.clip(expected, EPSILON, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def ks(current: Any, reference: Any) -> float:
    """The two-sample Kolmogorov-Smirnov statistic: the largest gap between the two ECDFs."""
    import numpy as np

    current, reference = np.sort(current), np.sort(reference)
    grid = np.concatenate([current, reference])
    gap = np.searchsorted(current, grid, side="right") / len(current) - np.searchsorted(
        reference, grid, side="right"
    ) / len(reference)
    return float(np.abs(gap).max())


def chi2_pvalue(current: dict[Any, int], reference: dict[Any, int]) -> float:
    """p-value of a chi-square test that the current counts follow the reference's proportions."""
    import numpy as np
    from scipy.stats import chisquare

    categories = sorted(set(current) | set(reference), key=str)
    if len(categories) < 2:  # one category on both sides (a tenant's own column): nothing can drift
        return 1.0
    observed = np.array([current.get(c, 0) for c in categories], dtype=float)
    shares = np.array([reference.get(c, 0) for c in categories], dtype=float) + EPSILON
    expected = shares / shares.sum() * observed.sum()
    return float(chisquare(observed, expected).pvalue)
