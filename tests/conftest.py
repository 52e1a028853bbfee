"""Shared fixtures: a fresh default graph per test, settings restored, hardware markers."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time

# The suite runs the real kernels on two emulated GPUs unless told otherwise (README).
os.environ.setdefault("GPUVARS_EMULATED_GPUS", "2")

import numpy as np
import pytest

import gpuvars
from gpuvars import config, devices
from gpuvars.backends.base import DeviceArray
from gpuvars.backends.cpu import CpuBackend


def _real_gpu_count() -> int:
    if importlib.util.find_spec("cupy") is None:
        return 0
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:
        return 0


_REAL_GPUS = _real_gpu_count()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("gpu") and _REAL_GPUS < 1:
        pytest.skip("needs a real CUDA GPU and CuPy")
    marker = item.get_closest_marker("multi_gpu")
    if marker is not None:
        need = marker.args[0] if marker.args else 2
        if _REAL_GPUS < need:
            pytest.skip(f"needs {need} real CUDA GPUs")


@pytest.fixture(autouse=True)
def _fresh_state():
    """Each test starts with an empty default graph and default settings."""
    gpuvars.reset_default_graph()
    soft = config.get_soft_device_placement()
    det = config.is_deterministic()
    gpus = config.get_emulated_gpus()
    devices._warned.clear()
    gpuvars.reset_transfer_stats()
    yield
    config.set_soft_device_placement(soft)
    config.set_deterministic(det)
    if config.get_emulated_gpus() != gpus:
        _set_emulated(gpus)


def _set_emulated(n: int) -> None:
    devices._reset_registry()
    config._emulated_gpus = n
    devices._reset_registry()


@pytest.fixture
def emulated_gpus():
    """Two emulated GPUs, whatever GPUVARS_EMULATED_GPUS says; restored afterwards."""
    _set_emulated(2)
    yield 2


@pytest.fixture
def no_gpus():
    """No GPUs at all (emulated ones off): only /cpu:0."""
    _set_emulated(0)
    if devices._start().get("gpu"):
        pytest.skip("a real GPU is present")
    yield


class TaggedBackend(CpuBackend):
    """A host backend whose buffers are DeviceArrays tagged with its name, like an emulated GPU's."""

    kind = "emulated_gpu"
    device_type = "GPU"

    def from_host(self, array):
        out = np.array(array, copy=True, order="C").view(DeviceArray)
        out._gv_device = self.name
        return out

    def empty(self, shape, dtype):
        return self.from_host(np.empty(shape, dtype))

    def owns(self, array):
        return isinstance(array, DeviceArray) and array._gv_device == self.name


def run_and_kill(args, env, delay):
    """Start a child that prints "ready", SIGKILL it after ``delay`` seconds; return what it printed."""
    child = subprocess.Popen([sys.executable, "-c", *args], stdout=subprocess.PIPE, env=env, text=True)
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)
    out, _ = child.communicate()
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return out
