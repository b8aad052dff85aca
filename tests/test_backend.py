import os

import keras
import pytest

from pokediff import backend

NAME = backend.XLA_CPU_FLAG.split("=")[0]


@pytest.fixture
def xla_flags(monkeypatch):
    """Run with `XLA_FLAGS` restored afterwards, whatever the test sets."""
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))
    return monkeypatch


def test_xla_cpu_flag_is_added_once_on_jax_only(xla_flags):
    xla_flags.setenv("XLA_FLAGS", "--xla_backend_optimization_level=0")
    backend.configure_xla_cpu()
    backend.configure_xla_cpu()
    flags = os.environ["XLA_FLAGS"]
    if keras.backend.backend() != "jax":
        assert flags == "--xla_backend_optimization_level=0"
        return
    import jaxlib

    if not jaxlib.__version__.startswith(backend.XLA_CPU_FLAG_JAXLIB):
        assert NAME not in flags
        return
    assert flags == (
        f"--xla_backend_optimization_level=0 {backend.XLA_CPU_FLAG}"
    )


def test_xla_cpu_flag_leaves_the_users_choice_alone(xla_flags):
    xla_flags.setenv("XLA_FLAGS", f"{NAME}=dot")
    backend.configure_xla_cpu()
    assert os.environ["XLA_FLAGS"] == f"{NAME}=dot"


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX only")
def test_this_process_runs_with_the_xla_cpu_flag():
    # pokediff was imported before JAX computed anything (conftest).
    import jaxlib

    if not jaxlib.__version__.startswith(backend.XLA_CPU_FLAG_JAXLIB):
        pytest.skip(f"jaxlib {jaxlib.__version__} does not get the flag")
    assert backend.XLA_CPU_FLAG in os.environ["XLA_FLAGS"]
