"""Whether two rates differ: the pooled two-proportion z-test at a fixed horizon, and how many
trials each arm needs before the answer means anything.

Cancel flows compare save rates between versions (and against their holdout); recovery compares
the recovery rate of campaigns that got dunning emails with the holdout that got none. Both read
the same numbers from here.

Decide how many trials per arm you need before looking (``trials_needed``) and read the p-value
once both arms have them: stopping at the first p < 0.05 while watching daily inflates false
positives several-fold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

Z_ALPHA = 1.96  # two-sided alpha = 0.05
Z_POWER = 0.84  # power 0.8


class Arm(Protocol):
    """One side of a comparison: ``trials`` that ended, ``successes`` among them."""

    @property
    def key(self) -> str: ...

    @property
    def trials(self) -> int: ...

    @property
    def successes(self) -> int: ...


@dataclass(frozen=True)
class Comparison:
    a: Any  # an ``Arm``; kept as given so pages can read its label and rate
    b: Any
    z: float | None
    p_value: float | None
    needed_per_arm: int | None  # trials each arm needs to detect the observed difference
    more_needed: dict[str, int]  # trials still needed per arm (0 when it has enough)

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < 0.05 and not any(self.more_needed.values())

    @property
    def decided(self) -> bool:
        """Both arms have the trials planned for a difference of this size."""
        return self.needed_per_arm is not None and not any(self.more_needed.values())


def two_proportion(n1: int, s1: int, n2: int, s2: int) -> tuple[float | None, float | None]:
    """(z, two-sided p-value) of the pooled two-proportion z-test; (None, None) without data."""
    if not n1 or not n2:
        return None, None
    pooled = (s1 + s2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 0.0, 1.0
    z = (s1 / n1 - s2 / n2) / spread
    return z, math.erfc(abs(z) / math.sqrt(2))


def trials_needed(p1: float, p2: float) -> int | None:
    """Per arm, to detect p1 vs p2 at alpha = 0.05 (two-sided) with power 0.8; None when equal."""
    d = abs(p1 - p2)
    if d == 0:
        return None
    return math.ceil((Z_ALPHA + Z_POWER) ** 2 * (p1 * (1 - p1) + p2 * (1 - p2)) / d**2)


def compare(a: Arm, b: Arm) -> Comparison:
    z, p = two_proportion(a.trials, a.successes, b.trials, b.successes)
    needed = trials_needed(a.successes / a.trials, b.successes / b.trials) if a.trials and b.trials else None
    more = {
        a.key: max(0, needed - a.trials) if needed else 0,
        b.key: max(0, needed - b.trials) if needed else 0,
    }
    return Comparison(a, b, z, p, needed, more)
