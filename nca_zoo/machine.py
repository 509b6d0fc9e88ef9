"""What machine this process runs on, in words, for the records a training run leaves behind."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import jax

#: What a run's run.json records of where it trains (:func:`machine_record`); a run may resume elsewhere,
#: so these are left out when a resumed run is checked against its record.
MACHINE_KEYS = ("hardware", "jax_version")


def machine_record() -> dict[str, str]:
    """``{"hardware", "jax_version"}`` of this process, for a run's run.json and, from there, the registry
    (an entry trained on a GPU under another JAX than the machine that registers it keeps its own)."""
    return {"hardware": hardware(), "jax_version": jax.__version__}


def hardware() -> str:
    """The JAX backend and device kind ("1× NVIDIA H200 (gpu)"), or the CPU model and cores on CPU."""
    devices = jax.devices()
    if jax.default_backend() == "cpu":
        model = cpu_model()
        return f"CPU: {model + ', ' if model else ''}{os.cpu_count()} cores ({platform.machine()})"
    return f"{len(devices)}× {devices[0].device_kind} ({jax.default_backend()})"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
