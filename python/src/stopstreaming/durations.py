"""The one duration type of the Python API: a number of seconds or a duration text.

``wait=60`` and ``wait="60s"`` mean the same everywhere, and so do ``timeout=300`` and
``timeout="5m"``. Text is the plugin's grammar (Spark's: ``500ms``, ``30s``, ``5m``, ``1h``,
``2d``; a bare number in text is milliseconds) and goes to the plugin as written, so it checks and
answers it as over HTTP; a number becomes milliseconds.
"""

from __future__ import annotations

import math
import re
from typing import Union

from stopstreaming.errors import ConfigurationError
from stopstreaming.settings import MAX_WAIT_S

__all__ = ["MAX_WAIT_S", "Duration", "duration_ms", "duration_text", "wait_ms"]

Duration = Union[str, int, float]

# Spark's JavaUtils.timeStringAsMs, which the plugin's Durations.parse uses (no negative value).
_TEXT = re.compile(r"([0-9]+)([a-z]+)?")
_UNIT_MS = {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}


def duration_text(what: str, value: Duration | None) -> str | None:
    """``value`` as the plugin reads it (text as given, a number of seconds in ms); None stays None."""
    if value is None or isinstance(value, str):
        return value
    return f"{_seconds_ms(what, value)}ms"


def duration_ms(what: str, value: Duration | None) -> int | None:
    """``value`` in milliseconds, read here by the plugin's grammar; None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        return _seconds_ms(what, value)
    m = _TEXT.fullmatch(value.strip().lower())
    if m is None or (m.group(2) or "ms") not in _UNIT_MS:
        raise ConfigurationError(f"{what} '{value}' is not a duration such as 30s or 5m")
    return int(int(m.group(1)) * _UNIT_MS[m.group(2) or "ms"])


def wait_ms(value: Duration | None) -> int:
    """Return a ``wait`` in milliseconds (0: none), checked against the plugin's limit of one call."""
    ms = duration_ms("wait", value) or 0
    if ms > MAX_WAIT_S * 1000:
        raise ConfigurationError(f"wait is at most {MAX_WAIT_S // 60}m")
    return ms


def _seconds_ms(what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(
            f"{what} must be a duration such as '30s' or a number of seconds, not {value!r}"
        )
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"{what} must be a number of seconds >= 0, not {value!r}")
    return int(round(value * 1000))
