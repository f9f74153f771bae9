"""`data.split`: how a dataset's samples become the training and validation sets.

- `stratified` (default): a seeded stratified split of the training samples (the official training
  part where a dataset has one), `data.val_fraction` of them for validation. The test part is never
  read into either set: this is what searches use, so no architecture is chosen on the test set.
- `test`: the papers' protocol. Train on the whole official training part (CIFAR-10/100: all 50,000
  images of data_batch_1..5 / train) and validate on the official test part (CIFAR: the 10,000
  images of test_batch / test); for cifar10, cifar100, dvs128_gesture, nmnist and cifar10_dvs
  (Spikformer's fixed 9:1 split, see fwformer/data/neuromorphic.py). The "validation"
  accuracy of such a run is its test accuracy, the number to set beside a paper's; the
  reproduction presets (`spikformer-4-384`, `fwformer-4-384-*`) use it.
- `all`: every sample (training and test parts together) is validation — for evaluating a
  trained model on a held-out file; training on it trains on the same samples.
"""
from __future__ import annotations

from typing import Optional

from fwformer.cli import ConfigError
from fwformer.config import DataConfig
from fwformer.data.base import InMemoryDataset, stratified_split

SPLITS = ("stratified", "test", "all")


def check_split(dc: DataConfig, *, has_test: bool) -> None:
    if dc.split not in SPLITS:
        raise ConfigError(f"unknown data.split '{dc.split}'; expected one of: {', '.join(SPLITS)}")
    if dc.split == "test" and not has_test:
        raise ConfigError(f"data.split=test (train on the official training part, validate on the official test "
                          f"part) needs a dataset with a test part (cifar10, cifar100, dvs128_gesture, cifar10_dvs, nmnist), "
                          f"but dataset '{dc.name}' has none; use data.split=stratified")
    if dc.split == "stratified" and not 0.0 < dc.val_fraction < 1.0:
        raise ConfigError(f"data.val_fraction must be between 0 and 1, but got {dc.val_fraction}")


def split_in_memory(dc: DataConfig, train_part: InMemoryDataset,
                    test_part: Optional[InMemoryDataset] = None) -> tuple[InMemoryDataset, InMemoryDataset]:
    check_split(dc, has_test=test_part is not None)
    if dc.split == "test":
        assert test_part is not None
        return train_part, test_part
    if dc.split == "all":
        if test_part is None:
            return train_part, train_part
        import torch

        both = InMemoryDataset(torch.cat([train_part.images, test_part.images]),
                               torch.cat([train_part.labels, test_part.labels]),
                               train_part.info, mean=train_part.mean, std=train_part.std)
        return both, both
    train_idx, val_idx = stratified_split(train_part.labels.numpy(), dc.val_fraction, dc.seed, name=dc.name)
    return train_part.subset(train_idx), train_part.subset(val_idx)
