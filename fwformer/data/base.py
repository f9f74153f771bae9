"""What every dataset family returns: its geometry (`DataInfo`), its samples, and batches of them.

Small datasets (digits, npz, CIFAR, the simulated event set) live in memory as tensors and are
batched by indexing, on the training device: no per-sample Python, no DataLoader workers. The
recorded event sets, read from their frame caches on disk (`FolderDataset`), go through a torch
DataLoader with the same batch order. Either way a batch leaves the loader as `x` float on the
device — `[B, C, H, W]` images or `[T, B, C, H, W]` event counts — and `y` int64 labels.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from fwformer.cli import ConfigError


class DataUnavailableError(ConfigError):
    """Files a dataset needs are absent (or a package it needs cannot be imported).

    The message says which folder was searched, what is missing and how to get it. A ConfigError,
    so the CLIs print it as one line and exit with code 2 before any work starts.
    """


@dataclass(frozen=True)
class DataInfo:
    """The geometry a dataset imposes on the model; configs must agree with it."""

    name: str
    num_classes: int
    in_channels: int
    img_size: int
    event: bool
    # The `npz` dataset infers its class count from the largest label unless the file declares
    # `classes`; then a model with more classes (trained on the full set) may still evaluate it.
    classes_at_least: bool = False


def default_root() -> Path:
    """`$FWFORMER_DATA`, else `$XDG_CACHE_HOME/fwformer/datasets`, else `~/.cache/fwformer/datasets`."""
    if os.environ.get("FWFORMER_DATA"):
        return Path(os.environ["FWFORMER_DATA"]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return cache / "fwformer" / "datasets"


def data_root(root: Optional[str]) -> Path:
    return Path(root).expanduser() if root else default_root()


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int, *, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified (train, val) indices: every class keeps its share in both parts."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(labels))
    try:
        train, val = train_test_split(index, test_size=val_fraction, stratify=labels, random_state=seed)
    except ValueError as err:
        raise ConfigError(
            f"cannot split dataset '{name}' ({len(labels)} samples, {len(np.unique(labels))} classes) "
            f"with data.val_fraction={val_fraction}: {err}; change data.val_fraction or use data.split=all"
        ) from None
    return np.sort(train), np.sort(val)


class InMemoryDataset:
    """Samples held as one tensor.

    images: `[N, C, H, W]` uint8 (0-255) or float in [0, 1] for static data; `[N, T, C, H, W]`
    float event counts for event data. `mean`/`std` normalise static images (None for events).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, info: DataInfo, *,
                 mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None):
        assert len(images) == len(labels), (images.shape, labels.shape)
        self.images = images
        self.labels = labels.long()
        self.info = info
        self.mean = tuple(float(m) for m in mean) if mean is not None else None
        self.std = tuple(float(s) for s in std) if std is not None else None
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> "InMemoryDataset":
        idx = torch.as_tensor(index, dtype=torch.long)
        return InMemoryDataset(self.images[idx], self.labels[idx], self.info, mean=self.mean, std=self.std)

    def on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole set moved to `device` once (uint8 stays uint8 there: 4x less memory)."""
        key = str(device)
        if key not in self._cache:
            self._cache = {key: (self.images.to(device), self.labels.to(device))}
        return self._cache[key]


class FolderDataset:
    """Samples read one by one from disk by a map-style torch dataset returning `(frames, label)`.

    frames: `[T, C, H, W]` tensors at the model's size (int16 event counts from a frame cache); they
    are batched by a torch DataLoader with worker processes.
    """

    def __init__(self, dataset: torch.utils.data.Dataset, labels: np.ndarray, info: DataInfo):
        self.dataset = dataset
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        self.info = info
        self.mean = self.std = None

    def __len__(self) -> int:
        return len(self.labels)


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of `[N, C, H, W]` images scaled to [0, 1]."""
    x = to_unit_float(images).transpose(0, 1).reshape(images.shape[1], -1)  # [C, N*H*W]
    return tuple(x.mean(1).tolist()), tuple(x.std(1).clamp_min(1e-3).tolist())


def to_unit_float(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


def resize_square(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize the last two dims of `[..., H, W]` to `size x size` (area when shrinking, bilinear when growing)."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    lead = x.shape[:-3]
    flat = x.float().reshape(-1, *x.shape[-3:])  # [prod(lead), C, H, W]
    mode = "area" if size < x.shape[-1] else "bilinear"
    out = F.interpolate(flat, size=(size, size), mode=mode, **({} if mode == "area" else {"align_corners": False}))
    return out.reshape(*lead, *out.shape[1:])


class BatchLoader:
    """Batches `(x, y)` of a dataset on `device`, in a seeded order that depends only on the epoch.

    `set_epoch(e)` picks the shuffle of epoch `e`, so a resumed run sees exactly the batches an
    uninterrupted run would. `augment` maps a float batch `[B, C', H, W]` in its data range to the
    same shape (for events the T frames are folded into C' so a sample's frames move together).
    """

    def __init__(self, ds, *, batch_size: int, shuffle: bool, drop_last: bool, device: torch.device,
                 seed: int = 0, augment: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
                 num_workers: int = 0):
        if batch_size < 1:
            raise ConfigError(f"train.batch_size must be >= 1, but got {batch_size}")
        self.ds = ds
        self.batch_size = batch_size
        self.shuffle = shuffle
        # A last partial batch is kept when it is the only one (a dataset smaller than a batch).
        self.drop_last = drop_last and len(ds) >= batch_size
        self.device = torch.device(device)
        self.seed = seed
        self.augment = augment
        self.num_workers = num_workers
        self.epoch = 0
        info = ds.info
        if ds.mean is not None:
            shape = (1, info.in_channels, 1, 1)
            self._mean = torch.tensor(ds.mean, device=self.device).view(shape)
            self._std = torch.tensor(ds.std, device=self.device).view(shape)
        else:
            self._mean = self._std = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.ds)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self) -> torch.Tensor:
        n = len(self.ds)
        if not self.shuffle:
            return torch.arange(n)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(n, generator=g)

    def _index_batches(self) -> list[torch.Tensor]:
        order = self._order()
        return [order[i * self.batch_size:(i + 1) * self.batch_size] for i in range(len(self))]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        batches = self._index_batches()
        if isinstance(self.ds, InMemoryDataset):
            images, labels = self.ds.on(self.device)
            for idx in batches:
                idx = idx.to(self.device)
                yield self._finish(images[idx]), labels[idx]
        else:
            loader = torch.utils.data.DataLoader(
                self.ds.dataset, batch_sampler=[b.tolist() for b in batches], num_workers=self.num_workers,
                pin_memory=self.device.type == "cuda",
            )
            for frames, y in loader:
                x = torch.as_tensor(frames).to(self.device, non_blocking=True)
                yield self._finish(x), torch.as_tensor(y).long().to(self.device)

    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        x = to_unit_float(x)
        if self.ds.info.event:
            b, t = x.shape[:2]  # [B, T, C, H, W] counts
            if self.augment is not None:
                x = self.augment(x.flatten(1, 2)).reshape(b, t, *x.shape[2:])
            return x.transpose(0, 1).contiguous()  # [T, B, C, H, W]
        if self.augment is not None:  # [B, C, H, W] in [0, 1]
            x = self.augment(x)
        if self._mean is not None:
            x = (x - self._mean) / self._std
        return x
