"""The two ways to the plugin, classic PySpark (Py4J) and Spark Connect (HTTP), offer one interface."""

from __future__ import annotations

import inspect

import pytest

from stopstreaming.backend import Backend
from stopstreaming.classic import ClassicBackend
from stopstreaming.connect import ConnectBackend

pytestmark = pytest.mark.tooling("compares the signatures of our two Python backends; no Spark call")


def test_both_backends_implement_the_protocol_with_its_signatures():
    declared = {n for n, v in vars(Backend).items() if inspect.isfunction(v) and not n.startswith("_")}
    assert declared, "the protocol declares the calls the public API makes"
    for cls in (ClassicBackend, ConnectBackend):
        assert issubclass(cls, Backend), cls
        for name in declared:
            want = list(inspect.signature(getattr(Backend, name)).parameters)
            have = list(inspect.signature(getattr(cls, name)).parameters)
            assert have == want, f"{cls.__name__}.{name}{have} differs from Backend.{name}{want}"
