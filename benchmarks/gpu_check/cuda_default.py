"""A pytest plugin (`-p benchmarks.gpu_check.cuda_default`): CUDA is the default device, so every
tensor and module a test creates without naming a device lands on the GPU and the CPU tests run there
unchanged. A failure that names a device or a generator ("Expected a 'cuda' device type for
generator") comes from this way of moving tests, not from the model: a test that names 'cpu' or
builds a CPU generator meets CUDA tensors."""
from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    import torch

    if not torch.cuda.is_available():
        raise pytest.UsageError("benchmarks.gpu_check.cuda_default needs CUDA, and torch sees no GPU")
    torch.set_default_device("cuda")
