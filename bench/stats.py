"""Percentiles and the bootstrap interval of a ratio, for every figure family."""

from __future__ import annotations

import statistics


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))], 2)


def dist(values: list[float], *ps: int) -> dict:
    return {**{f"p{p}": pct(values, p) for p in ps}, "n": len(values)}


def ratio_interval(a: list[float], b: list[float], draws: int = 2000) -> tuple[float, float]:
    """A 95% bootstrap interval of median(a) / median(b): how far noise alone moves the ratio."""
    import random

    rng = random.Random(7)
    ratios = sorted(
        statistics.median(rng.choices(a, k=len(a))) / statistics.median(rng.choices(b, k=len(b)))
        for _ in range(draws)
    )
    return round(ratios[int(0.025 * draws)], 3), round(ratios[int(0.975 * draws)], 3)
