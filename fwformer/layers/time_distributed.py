"""Time-distributed building blocks: layers applied to every timestep of `[T, B, ...]` at once."""
from __future__ import annotations

import torch
from torch import nn


class LinearBN(nn.Module):
    """Linear -> BatchNorm over channels, on `[T, B, N, D_in]` -> `[T, B, N, D_out]`."""

    def __init__(self, d_in: int, d_out: int, bias: bool = True):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out, bias=bias)
        self.bn = nn.BatchNorm1d(d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        y = self.bn(self.linear(x.reshape(-1, x.shape[-1])))  # [T*B*N, D_out]
        return y.reshape(*lead, -1)


class ConvBN(nn.Module):
    """Conv2d 3x3 (no bias) -> BatchNorm2d on `[T, B, C, H, W]`."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b = x.shape[:2]
        y = self.bn(self.conv(x.flatten(0, 1)))  # [T*B, C_out, H, W]
        return y.reshape(t, b, *y.shape[1:])


class MaxPool(nn.Module):
    """MaxPool(3, stride 2, pad 1) on `[T, B, C, H, W]`: halves H and W, keeps spikes binary."""

    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b = x.shape[:2]
        y = self.pool(x.flatten(0, 1))
        return y.reshape(t, b, *y.shape[1:])
