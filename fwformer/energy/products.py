"""How mixers report products that no Linear/Conv module performs (q k^T, basis products, ...).

A mixer calls `record_product(self, tag, flops=..., operand=...)` right after such a product:
`flops` is the multiply-accumulates of the whole call (all timesteps, the whole batch) and
`operand` the input whose firing rate prices it. Without an active energy meter this is a
no-op costing one list check, so mixers call it unconditionally.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Protocol

import torch
from torch import nn


class ProductListener(Protocol):
    def on_product(self, module: nn.Module, tag: str, flops: int, operand: torch.Tensor) -> None: ...


_LISTENERS: list[ProductListener] = []


def record_product(module: nn.Module, tag: str, *, flops: int, operand: torch.Tensor) -> None:
    if _LISTENERS:
        for listener in _LISTENERS:
            listener.on_product(module, tag, int(flops), operand.detach())


@contextmanager
def listening(listener: ProductListener) -> Iterator[None]:
    _LISTENERS.append(listener)
    try:
        yield
    finally:
        _LISTENERS.remove(listener)
