"""`digits`: scikit-learn's bundled 8x8 handwritten digits (1797 real images, 10 classes, offline).

Values 0-16 are scaled to [0, 1]; one channel; `data.resize` upsamples. A seeded stratified split
(`data.val_fraction`, default 0.2: 1437 train / 360 validation).
"""
from __future__ import annotations

import numpy as np
import torch

from fwformer.config import Config, DataConfig
from fwformer.data.base import DataInfo, InMemoryDataset, channel_stats, resize_square
from fwformer.data.splits import check_split, split_in_memory


def info(dc: DataConfig) -> DataInfo:
    check_split(dc, has_test=False)
    return DataInfo("digits", 10, 1, dc.resize or 8, event=False)


def load_images(resize: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """`[1797, 1, S, S]` float images in [0, 1] and their int64 labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(np.asarray(bunch.images, dtype=np.float32) / 16.0).unsqueeze(1)  # [N, 1, 8, 8]
    if resize:
        images = resize_square(images, resize).clamp_(0.0, 1.0)
    return images, torch.from_numpy(np.asarray(bunch.target, dtype=np.int64))


def build(cfg: Config, info: DataInfo) -> tuple[InMemoryDataset, InMemoryDataset]:
    images, labels = load_images(cfg.data.resize)
    train, val = split_in_memory(cfg.data, InMemoryDataset(images, labels, info))
    mean, std = channel_stats(train.images)
    for ds in (train, val):
        ds.mean, ds.std = mean, std
    return train, val
