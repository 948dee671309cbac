"""The probability distributions behind greenbench's intervals and tests, on the standard library.

- Student's t: the interval of a median from 2-5 repeats, Welch's test, the interval of a
  fitted scaling exponent.
- The beta distribution: the upper bound of a false-alarm rate (Clopper-Pearson).
- The normal distribution: the rank-sum test's large-sample approximation, the smallest
  change a paired test detects.
- The exact null distribution of the Mann-Whitney U statistic, and the midranks that both rank
  tests (rank sum, signed rank) are computed on.

Why not scipy: the plain install is what every CI job installs with the pytest plugin, and
scipy, with the OpenBLAS it bundles, was 143 MB of its 294 MB for these few functions. The
methods are the textbook ones: the regularized incomplete beta function by its continued
fraction (modified Lentz evaluation, Numerical Recipes 6.4), quantiles by bisection of the
distribution function, and the U distribution as the coefficients of a Gaussian binomial
coefficient, counted exactly in integers. ``tests/test_distributions.py`` checks every function
against scipy (a test dependency) to a relative 1e-10.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from statistics import NormalDist

_STANDARD_NORMAL = NormalDist()
_FRACTION_EPS = 1e-16
_FRACTION_MAX_TERMS = 100_000
_TINY = 1e-300


# --------------------------------------------------------------------------- normal


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z, accurate far into the upper tail."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def normal_ppf(q: float) -> float:
    """The ``q`` quantile of the standard normal distribution."""
    _check_probability(q)
    return _STANDARD_NORMAL.inv_cdf(q)


# --------------------------------------------------------------------------- beta


def beta_cdf(x: float, a: float, b: float) -> float:
    """P(X <= x) for X ~ Beta(a, b): the regularized incomplete beta function I_x(a, b)."""
    _check_shapes(a, b)
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    return _incomplete_beta(a, b, x, 1.0 - x)


def beta_ppf(q: float, a: float, b: float) -> float:
    """The ``q`` quantile of Beta(a, b)."""
    _check_probability(q)
    _check_shapes(a, b)
    return _bisect(lambda x: beta_cdf(x, a, b), q, 0.0, 1.0)


def _incomplete_beta(a: float, b: float, x: float, y: float) -> float:
    """I_x(a, b) with ``y = 1 - x`` given apart, so that neither loses digits to a subtraction.

    The continued fraction converges fast for ``x < (a + 1) / (a + b + 2)``; beyond it the
    symmetry I_x(a, b) = 1 - I_y(b, a) is used.
    """
    if x == 0.0 or y == 0.0:
        return 0.0 if x == 0.0 else 1.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _incomplete_beta(b, a, y, x)
    log_front = a * _log_of(x, y) + b * _log_of(y, x) - _log_beta(a, b)
    return math.exp(log_front) * _beta_fraction(a, b, x) / a


def _log_of(x: float, complement: float) -> float:
    """log(x) for x = 1 - complement, from whichever of the two is exact near 1."""
    return math.log1p(-complement) if complement < 0.5 else math.log(x)


def _log_beta(a: float, b: float) -> float:
    """log B(a, b), without the cancellation of lgamma(a + b) - lgamma(a) for large a.

    At a = 10,000, lgamma(a) is 82,000, so its last bit is 1e-11; Student's t at large
    (Welch) degrees of freedom needs B(df / 2, 1 / 2) better than that. For a large argument
    the difference lgamma(a + b) - lgamma(a) is written out from Stirling's series instead.
    """
    small, big = sorted((a, b))
    if big < 100.0:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    rise = ((big - 0.5) * math.log1p(small / big) + small * math.log(big + small) - small
            + _stirling_rest(big + small) - _stirling_rest(big))
    return math.lgamma(small) - rise


def _stirling_rest(x: float) -> float:
    """lgamma(x) - ((x - 1/2) log x - x + log(2 pi) / 2), for x >= 100 (error below 1e-17)."""
    inverse = 1.0 / x
    square = inverse * inverse
    return inverse * (1 / 12 - square * (1 / 360 - square / 1260))


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), by the modified Lentz method."""

    def nonzero(v: float) -> float:
        return v if abs(v) > _TINY else _TINY

    c = 1.0
    d = 1.0 / nonzero(1.0 - (a + b) * x / (a + 1.0))
    h = d
    for m in range(1, _FRACTION_MAX_TERMS + 1):
        # the even term, then the odd one
        even = m * (b - m) * x / ((a + 2 * m - 1.0) * (a + 2 * m))
        d = 1.0 / nonzero(1.0 + even * d)
        c = nonzero(1.0 + even / c)
        h *= d * c
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1.0))
        d = 1.0 / nonzero(1.0 + odd * d)
        c = nonzero(1.0 + odd / c)
        step = d * c
        h *= step
        if abs(step - 1.0) < _FRACTION_EPS:
            return h
    raise ArithmeticError(f"the incomplete beta fraction did not converge (a={a}, b={b}, x={x})")


# --------------------------------------------------------------------------- Student's t


def t_sf(t: float, df: float) -> float:
    """P(T > t) for T with Student's t distribution on ``df`` degrees of freedom (any df > 0)."""
    if not df > 0:
        raise ValueError(f"degrees of freedom must be positive, got {df!r}")
    if math.isnan(t):
        raise ValueError("t is NaN")
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    t2 = t * t
    # P(|T| > |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2)
    two_tailed = _incomplete_beta(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2)) if t2 else 1.0
    return 0.5 * two_tailed if t > 0 else 1.0 - 0.5 * two_tailed


@lru_cache(maxsize=256)
def t_ppf(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t distribution on ``df`` degrees of freedom."""
    _check_probability(q)
    if not df > 0:
        raise ValueError(f"degrees of freedom must be positive, got {df!r}")
    if q < 0.5:
        return -t_ppf(1.0 - q, df) if q > 0.25 else -_t_beyond(q, df)
    if q < 0.75:
        # q - 0.5 is exact here: bisect P(0 < T < t), which keeps its digits near t = 0
        return _bisect(lambda t: _t_center(t, df), q - 0.5, 0.0, _t_beyond(0.25, df))
    return _t_beyond(1.0 - q, df)  # 1 - q is exact here


def _t_beyond(tail: float, df: float) -> float:
    """The t > 0 with P(T > t) = ``tail``, bisected on the tail itself to keep its digits."""
    upper = 1.0
    while t_sf(upper, df) > tail:
        upper *= 2.0
    return _bisect(lambda t: -t_sf(t, df), -tail, 0.0, upper)


def _t_center(t: float, df: float) -> float:
    """P(0 < T < t) for t >= 0."""
    t2 = t * t
    return 0.5 * _incomplete_beta(0.5, df / 2.0, t2 / (df + t2), df / (df + t2)) if t2 else 0.0


# --------------------------------------------------------------------------- Mann-Whitney U


def mann_whitney_u_sf(u: float, n1: int, n2: int) -> float:
    """P(U >= u) under the null hypothesis, for samples of ``n1`` and ``n2`` untied values."""
    counts = _u_counts(min(n1, n2), max(n1, n2))
    start = max(0, math.ceil(u))
    if start >= len(counts):
        return 0.0
    return sum(counts[start:]) / sum(counts)


@lru_cache(maxsize=64)
def _u_counts(n1: int, n2: int) -> tuple[int, ...]:
    """How many of the C(n1 + n2, n1) orderings give U = 0, 1, ..., n1 * n2.

    These are the coefficients of the Gaussian binomial coefficient
    prod_{i=1..n1} (1 - q^(n2 + i)) / (1 - q^i), multiplied and divided out term by term.
    """
    size = n1 * n2 + 1
    coefficients = [0] * size
    coefficients[0] = 1
    for i in range(1, n1 + 1):
        times = n2 + i
        for j in range(size - 1, times - 1, -1):  # multiply by (1 - q^times)
            coefficients[j] -= coefficients[j - times]
        for j in range(i, size):  # divide by (1 - q^i)
            coefficients[j] += coefficients[j - i]
    return tuple(coefficients)


def midranks(values: Sequence[float]) -> list[float]:
    """Ranks from 1, ties given the mean of the ranks they share."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for m in range(i, j + 1):
            ranks[order[m]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


# --------------------------------------------------------------------------- helpers


def _bisect(cdf: Callable[[float], float], q: float, low: float, high: float) -> float:
    """The x in [low, high] where the increasing ``cdf`` reaches ``q``, to the last bit."""
    while True:
        middle = 0.5 * (low + high)
        if middle in (low, high):
            return middle
        if cdf(middle) < q:
            low = middle
        else:
            high = middle


def _check_probability(q: float) -> None:
    if not 0.0 < q < 1.0:
        raise ValueError(f"a probability strictly between 0 and 1 is needed, got {q!r}")


def _check_shapes(a: float, b: float) -> None:
    if not (a > 0 and b > 0):
        raise ValueError(f"beta shapes must be positive, got a={a!r}, b={b!r}")
