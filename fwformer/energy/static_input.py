"""Direct encoding: a static image repeated over T reaches its first layer T times, identically.

The field prices that layer once (FWformer, arXiv 2403.18228, appendix eq. 2; Spikformer): its
output is the same at every step, so hardware computes it once. `RunOnce` makes the model do
exactly that while a meter watches: a forward pre-hook cuts the layer's input to one copy and a
forward hook repeats the output, so every counter (ours, spikingjelly's module hooks and its
dispatch-level counters) sees one run, and the rest of the network sees the usual tensor.

A layer counts as fed the repeated input when its input, cut along its first dimension into k
equal parts (k >= 2), is k copies of the model's input: the `[T * B, ...]` layout that
`x.unsqueeze(0).expand(T, ...)` followed by `flatten(0, 1)` gives. A model that repeats its
input in another layout is priced per step, never below the truth.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Optional

import torch
from torch import nn


def repeats_of(x: torch.Tensor, image: torch.Tensor) -> int:
    """k when `x` is `image` repeated k >= 2 times along its first dimension, else 1."""
    n = image.numel()
    if n == 0 or x.numel() <= n or x.numel() % n or x.dtype != image.dtype or x.device != image.device:
        return 1
    k = x.numel() // n
    if x.shape[0] % k:
        return 1
    return k if torch.equal(x.reshape(k, n), image.reshape(1, n).expand(k, n)) else 1


class RunOnce:
    """Hooks that run once every watched layer fed the repeated static input.

    `layers` maps module -> name. With `known` (name -> k, from an earlier pass) the layers are
    cut without looking at values, so a dispatch-level counter sees no extra comparison.
    """

    def __init__(self, layers: dict[nn.Module, str], known: Optional[dict[str, int]] = None):
        self.layers = layers
        self.known = known
        self.image: Optional[torch.Tensor] = None  # the model input of the current batch
        self.found: dict[str, int] = {}  # name -> k, every layer cut so far
        self._pending: dict[nn.Module, int] = {}

    def _pre(self, module: nn.Module, args: tuple):
        if not args or not torch.is_tensor(args[0]):
            return None
        x = args[0]
        name = self.layers[module]
        if self.known is not None:
            k = self.known.get(name, 1)
        else:
            k = repeats_of(x, self.image) if self.image is not None else 1
        if k == 1:
            return None
        self._pending[module] = k
        self.found[name] = k
        return (x[: x.shape[0] // k], *args[1:])  # [T*B, ...] -> [B, ...], the first copy

    def _post(self, module: nn.Module, args: tuple, output: torch.Tensor):
        k = self._pending.pop(module, 1)
        if k == 1:
            return None
        return output.repeat(k, *([1] * (output.dim() - 1)))  # [B, ...] -> [T*B, ...]

    @contextmanager
    def pre_hooks(self) -> Iterator[None]:
        handles = [m.register_forward_pre_hook(self._pre) for m in self.layers]
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    @contextmanager
    def post_hooks(self) -> Iterator[None]:
        """Register after every counter's own forward hooks: those must see the single copy."""
        handles = [m.register_forward_hook(self._post) for m in self.layers]
        try:
            yield
        finally:
            for h in handles:
                h.remove()
