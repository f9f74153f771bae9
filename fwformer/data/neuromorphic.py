"""`dvs128_gesture`, `cifar10_dvs`, `nmnist`: event-camera datasets as T frames of event counts.

Recordings are read with tonic (`fwformer.data.events`), integrated into `T = cfg.T` frames of 2
polarity channels split by event count or by time (`data.frames_by`, `fwformer.data.frames`), at the
sensor size or `data.resize`, and cached on disk once per (dataset, part, T, split mode, size)
(`fwformer.data.frame_cache`) under `data.frames_cache`, default `<data.root>/<tonic class>/frames/`.
Later runs and every trial of a search read the cache and no event file.

Parts: DVS128 Gesture and N-MNIST have official train/test parts. CIFAR10-DVS has none; its test
part is Spikformer's (`cifar10dvs/train.py`, `split_to_train_test_set(0.9, ..., random_split=False)`):
the first 90% of every class (rounded up) in file-name order train, the rest test — fixed, not drawn.
`data.split` then picks validation as for every dataset (`fwformer.data.splits`): `stratified` carves
it from the training part only, `test` validates on the test part (the papers' protocol), `all` on
both parts together.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path

import numpy as np
import torch

from fwformer.cli import ConfigError
from fwformer.config import Config, DataConfig
from fwformer.data import events as ev
from fwformer.data.base import DataInfo, FolderDataset, data_root, stratified_split
from fwformer.data.frame_cache import CachedFrames, FrameKey, FrameWriter, is_complete, load_or_build
from fwformer.data.frames import FRAMES_BY, integrate
from fwformer.data.splits import check_split

CIFAR10_DVS_TRAIN_FRACTION = 0.9  # Spikformer's split of CIFAR10-DVS


def info(dc: DataConfig) -> DataInfo:
    spec = ev.EVENT_SETS[dc.name]
    check_split(dc, has_test=True)
    if dc.frames_by not in FRAMES_BY:
        raise ConfigError(f"unknown data.frames_by '{dc.frames_by}'; expected one of: {', '.join(FRAMES_BY)}")
    if dc.resize is not None and dc.resize > spec.sensor:
        raise ConfigError(f"data.resize={dc.resize} is larger than the {spec.sensor}x{spec.sensor} sensor of "
                          f"'{dc.name}'; event frames can only shrink: choose at most {spec.sensor}")
    return DataInfo(dc.name, spec.classes, 2, dc.resize or spec.sensor, event=True)


def cache_directory(dc: DataConfig) -> Path:
    if dc.frames_cache:
        return Path(dc.frames_cache).expanduser() / dc.name
    return ev.dataset_folder(data_root(dc.root), ev.EVENT_SETS[dc.name]) / "frames"


def cached_part(dc: DataConfig, part: str, T: int, size: int) -> Path:
    """The cache folder of one part, integrating its recordings first when it has none."""
    key = FrameKey(dc.name, part, T, dc.frames_by, size)
    directory = cache_directory(dc)
    if is_complete(directory / key.folder, key):
        return directory / key.folder
    ev.check_readable(dc.name)
    folder = ev.ensure_extracted(dc.name, data_root(dc.root), dc.download)  # missing files fail here, first
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot write the frame cache of '{dc.name}' in '{directory}' ({err.strerror}); "
                          f"set data.frames_cache to a writable folder") from None

    @cache
    def reader():
        return ev.open_part(dc.name, folder, part)

    def build(writer: FrameWriter) -> None:
        _integrate_part(writer, reader(), folder, dc.num_workers)

    return load_or_build(directory, key, count=lambda: len(reader()), build=build)


def _integrate_part(writer: FrameWriter, ds, folder: Path, workers: int) -> None:
    """Every recording of `ds` (tonic's dataset) into `writer`, in file-name order."""
    from tqdm import tqdm

    key = writer.key
    sensor = ev.EVENT_SETS[key.dataset].sensor
    order = sorted(range(len(ds)), key=lambda i: ds.data[i])  # tonic lists files in directory order
    paths = [ds.data[i] for i in order]
    bar = tqdm(total=len(order), desc=f"{key.dataset} {key.folder}: integrating frames", unit="rec")
    if workers > 1 and len(order) >= 4 * workers:
        chunks = [paths[i:i + 64] for i in range(0, len(paths), 64)]
        task = (key.dataset, str(folder), key.part, key.T, key.by, key.size)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            done = 0
            for chunk, results in zip(chunks, pool.map(_integrate_files, [(task, c) for c in chunks])):
                for path, (frames, label) in zip(chunk, results):
                    writer.frames[done], writer.labels[done] = frames, label
                    writer.files[done] = os.path.relpath(path, folder)
                    done += 1
                bar.update(len(chunk))
    else:
        for j, i in enumerate(order):
            events, label = ds[i]
            writer.frames[j] = integrate(events, sensor, key.T, key.by, key.size)
            writer.labels[j], writer.files[j] = label, os.path.relpath(paths[j], folder)
            bar.update(1)
    bar.close()


_READERS: dict = {}  # per worker process: (dataset, part) -> (tonic dataset, index of every file)


def _integrate_files(job) -> list[tuple[np.ndarray, int]]:
    (name, folder, part, T, by, size), paths = job
    if (name, part) not in _READERS:
        ds = ev.open_part(name, Path(folder), part, warn=False)  # the parent process warned
        _READERS[(name, part)] = (ds, {p: i for i, p in enumerate(ds.data)})
    ds, where = _READERS[(name, part)]
    sensor = ev.EVENT_SETS[name].sensor
    out = []
    for path in paths:
        events, label = ds[where[path]]
        out.append((integrate(events, sensor, T, by, size), int(label)))
    return out


def first_fraction_per_class(labels: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Spikformer's CIFAR10-DVS split: per class, the first ceil(fraction * n) samples train, the rest test."""
    train, test = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = math.ceil(len(idx) * fraction)
        train.append(idx[:k])
        test.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def build(cfg: Config, info: DataInfo) -> tuple[FolderDataset, FolderDataset]:
    dc = cfg.data
    spec = ev.EVENT_SETS[dc.name]
    parts = {p.name: CachedFrames(cached_part(dc, p.name, cfg.T, info.img_size)) for p in spec.parts}
    if "all" in parts:
        train_idx, test_idx = first_fraction_per_class(parts["all"].labels, CIFAR10_DVS_TRAIN_FRACTION)
        train_part, test_part = parts["all"].subset(train_idx), parts["all"].subset(test_idx)
    else:
        train_part, test_part = parts["train"], parts["test"]
    if dc.split == "test" and not len(test_part):
        raise ConfigError(f"dataset '{dc.name}' has {len(train_part)} samples and none in its test part; "
                          f"use data.split=stratified")
    if dc.split == "test":
        return FolderDataset(train_part, train_part.labels, info), FolderDataset(test_part, test_part.labels, info)
    if dc.split == "all":
        both = torch.utils.data.ConcatDataset([train_part, test_part])
        ds = FolderDataset(both, np.concatenate([train_part.labels, test_part.labels]), info)
        return ds, ds
    train_idx, val_idx = stratified_split(train_part.labels, dc.val_fraction, dc.seed, name=dc.name)
    train_ds, val_ds = train_part.subset(train_idx), train_part.subset(val_idx)
    return FolderDataset(train_ds, train_ds.labels, info), FolderDataset(val_ds, val_ds.labels, info)
