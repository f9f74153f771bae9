"""Datasets by name (`cfg.data.name`), their geometry, and batches on the training device.

    info = dataset_info(cfg.data)            # classes, channels, image size, event or not; no loading
    cfg = with_data_geometry(cfg)            # fill None geometry from the data; disagreement -> ConfigError
    train_ds, val_ds, info = build_datasets(cfg)
    for x, y in make_loader(train_ds, cfg, train=True): ...

x is `[B, C, H, W]` float (static images; the model repeats them over T) or `[T, B, C, H, W]`
(event frames, T = cfg.T: event counts as floats, channel 0 OFF, channel 1 ON); y is int64 `[B]`.
Families, one module each: `cifar` (cifar10, cifar100), `npz`, `digits`, `digits_dvs` (simulated
events, offline), `neuromorphic` (dvs128_gesture, cifar10_dvs, nmnist: recorded events read with
tonic, integrated into frames once and cached on disk).
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Optional

from fwformer.cli import ConfigError, closest
from fwformer.config import Config, DataConfig, resolve_device, validate
from fwformer.data.base import BatchLoader, DataInfo, DataUnavailableError, FolderDataset, InMemoryDataset, default_root

# name -> module implementing `info(DataConfig) -> DataInfo` and `build(Config, DataInfo) -> (train, val)`.
DATASETS = {
    "cifar10": "fwformer.data.cifar",
    "cifar100": "fwformer.data.cifar",
    "npz": "fwformer.data.npz",
    "digits": "fwformer.data.digits",
    "digits_dvs": "fwformer.data.digits_dvs",
    "dvs128_gesture": "fwformer.data.neuromorphic",
    "cifar10_dvs": "fwformer.data.neuromorphic",
    "nmnist": "fwformer.data.neuromorphic",
}

__all__ = [
    "DATASETS", "DataInfo", "DataUnavailableError", "InMemoryDataset", "FolderDataset", "BatchLoader",
    "dataset_info", "with_data_geometry", "build_datasets", "make_loader", "default_root",
]


def _family(name: str):
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset '{name}'{closest(name, DATASETS)}; expected one of: {', '.join(DATASETS)}")
    return importlib.import_module(DATASETS[name])


def dataset_info(dc: DataConfig) -> DataInfo:
    """Classes, channels, image size and kind of a data config, checked but not loaded."""
    if dc.resize is not None and dc.resize < 1:
        raise ConfigError(f"data.resize must be >= 1, but got {dc.resize}")
    info = _family(dc.name).info(dc)
    from fwformer.data.augment import check_augment

    check_augment(dc, info)
    return info


def with_data_geometry(cfg: Config) -> Config:
    """`cfg` with img_size, in_channels and num_classes taken from its dataset where they are None.

    A value the config sets must match the data (for `npz` without `classes`, a model may have
    more classes than the labels show); the result is validated.
    """
    info = dataset_info(cfg.data)
    updates = {}
    for key, value, hint in (
        ("img_size", info.img_size, " (or set data.resize)"),
        ("in_channels", info.in_channels, ""),
        ("num_classes", info.num_classes, ""),
    ):
        current = getattr(cfg, key)
        if current is None:
            updates[key] = value
        elif current != value and not (key == "num_classes" and info.classes_at_least and current > value):
            raise ConfigError(
                f"{key}={current} in the config, but dataset '{info.name}' has {key}={value}; "
                f"set {key}={value}{hint} or leave it unset (null) to take it from the data"
            )
    cfg = dataclasses.replace(cfg, **updates)
    validate(cfg)
    return cfg


def build_datasets(cfg: Config, *, normalization: Optional[dict] = None):
    """(train_ds, val_ds, info) for `cfg.data`; `cfg` must agree with the data (see with_data_geometry).

    normalization: `{"mean": [...], "std": [...]}` to use instead of the statistics of this data
    (a checkpoint passes the ones its model was trained with).
    """
    info = dataset_info(cfg.data)
    train_ds, val_ds = _family(cfg.data.name).build(cfg, info)
    if not cfg.data.normalize:
        for ds in (train_ds, val_ds):
            ds.mean = ds.std = None
    elif normalization and not info.event:
        mean, std = normalization.get("mean"), normalization.get("std")
        if mean is not None and len(mean) == info.in_channels:
            for ds in (train_ds, val_ds):
                ds.mean, ds.std = tuple(mean), tuple(std)
    return train_ds, val_ds, info


def normalization_of(ds) -> Optional[dict]:
    return None if ds.mean is None else {"mean": list(ds.mean), "std": list(ds.std)}


def make_loader(ds, cfg: Config, train: bool, *, device=None, batch_size: Optional[int] = None) -> BatchLoader:
    """Batches of `ds` on the training device: shuffled and augmented when `train`, in order otherwise."""
    from fwformer.data.augment import build_augment

    device = resolve_device(cfg.train.device) if device is None else device
    return BatchLoader(
        ds, batch_size=batch_size or cfg.train.batch_size, shuffle=train, drop_last=train, device=device,
        seed=cfg.train.seed, augment=build_augment(cfg.data, ds.info, mean=ds.mean) if train else None,
        num_workers=cfg.data.num_workers if isinstance(ds, FolderDataset) else 0,
    )
