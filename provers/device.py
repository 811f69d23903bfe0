"""Which device the prover's torch work runs on: CUDA when present, else CPU.

ezkl 23's Python wheel proves on the CPU (its GPU MSM backend is a separate
build); torch inference, training and calibration searches use the GPU when one
is present. Every bundle reports the device in its meta.
"""

from __future__ import annotations

from functools import cache


@cache
def torch_device() -> str:
    try:
        import torch
    except ImportError:
        return "none"
    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(0)}"
    return "cpu"
