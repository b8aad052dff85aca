"""Every `>>>` example in pokediff's docstrings runs and gives its output."""

import doctest
import importlib
import pkgutil
from pathlib import Path

import keras
import numpy as np
import pytest

import pokediff


def modules_with_examples():
    names = [
        info.name
        for info in pkgutil.walk_packages(pokediff.__path__, "pokediff.")
        if info.name != "pokediff.cli"  # its imports pick the backend
    ]
    found = []
    for name in sorted(names):
        spec = importlib.util.find_spec(name)
        if ">>>" in Path(spec.origin).read_text(encoding="utf-8"):
            found.append(name)
    return found


MODULES = modules_with_examples()


def test_examples_are_found():
    assert "pokediff.layers.diffusion_block" in MODULES
    assert "pokediff.schedules" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(
        module,
        extraglobs={"keras": keras, "np": np, "Path": Path},
        optionflags=doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 0
    assert result.failed == 0
