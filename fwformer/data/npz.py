"""`npz`: a user's own arrays file.

Keys: `images` — uint8 (0-255) or float (0-1), `[N, C, H, W]`, `[N, H, W, C]` or `[N, H, W]`,
square; `labels` — integers 0..K-1, `[N]`; optional `classes` — K names, which fixes the class
count (otherwise it is the largest label + 1). Normalisation statistics come from the training
split (a checkpoint keeps them, so a held-out file is normalised like the training data).
Arrays are read without pickle: a file that is not a zip of .npy arrays, or that holds object
arrays (what np.savez makes of Python objects), is refused with one line naming the file.
"""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from fwformer.cli import ConfigError
from fwformer.config import Config, DataConfig
from fwformer.data.base import DataInfo, DataUnavailableError, InMemoryDataset, channel_stats, resize_square
from fwformer.data.splits import check_split, split_in_memory


def _path(dc: DataConfig) -> Path:
    if not dc.path:
        raise ConfigError("dataset 'npz' needs data.path, the .npz file with `images` and `labels` arrays")
    path = Path(dc.path).expanduser()
    if not path.is_file():
        raise DataUnavailableError(f"data.path '{path}' does not exist (resolved to '{path.resolve()}'); "
                                   f"the npz dataset needs a .npz file with `images` and `labels` arrays")
    return path


# What a damaged or foreign file raises on the way through zipfile and numpy's .npy reader.
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, KeyError)


def _unreadable(path: Path, err: Exception) -> ConfigError:
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ConfigError(f"'{path}' is not a readable .npz file ({reason}); the npz dataset needs a zip archive of "
                       f".npy arrays as numpy.savez writes, with `images` and `labels`")


def _header(path: Path, key: str, *, required: bool = True) -> Optional[tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of one array in an .npz without reading its data (None: absent, not required)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = {n[:-4] for n in zf.namelist() if n.endswith(".npy")}
            if key not in names:
                if not required:
                    return None
                raise ConfigError(f"'{path}' must hold an array named '{key}', but has: "
                                  f"{', '.join(sorted(names)) or 'none'}")
            with zf.open(key + ".npy") as f:
                major, _ = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(f)
    except _READ_ERRORS as err:
        raise _unreadable(path, err) from None
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        # Object arrays are pickles: loading them runs code from the file, so they are never loaded.
        raise ConfigError(f"'{path}': `{key}` is an object array (pickled Python objects), which is not loaded "
                          f"(no allow_pickle); save `{key}` as a numeric{' or string' if key == 'classes' else ''} "
                          f"array, e.g. np.savez(path, {key}=np.asarray(...))")
    return tuple(shape), dtype


def _read(path: Path, key: str) -> np.ndarray:
    try:
        with np.load(path) as z:
            return np.asarray(z[key])
    except _READ_ERRORS as err:
        raise _unreadable(path, err) from None


def _layout(shape: tuple[int, ...], path: Path) -> str:
    """`nchw`, `nhwc` or `nhw` from a square image shape."""
    if len(shape) == 3 and shape[1] == shape[2]:
        return "nhw"
    if len(shape) == 4:
        if shape[2] == shape[3] and shape[1] <= 4:
            return "nchw"
        if shape[1] == shape[2] and shape[3] <= 4:
            return "nhwc"
    raise ConfigError(f"'{path}': `images` must be square [N, C, H, W], [N, H, W, C] or [N, H, W] with at most "
                      f"4 channels, but has shape {list(shape)}")


def _labels(path: Path) -> np.ndarray:
    labels = _read(path, "labels")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ConfigError(f"'{path}': `labels` must be a 1-D integer array, but is {labels.dtype} {list(labels.shape)}")
    if labels.size and labels.min() < 0:
        raise ConfigError(f"'{path}': `labels` must be >= 0, but the smallest is {labels.min()}")
    return labels.astype(np.int64)


def info(dc: DataConfig) -> DataInfo:
    check_split(dc, has_test=False)
    path = _path(dc)
    shape, dtype = _header(path, "images")
    _header(path, "labels")
    layout = _layout(shape, path)
    if 0 in shape:
        what = "no samples" if shape[0] == 0 else "images of no pixels"
        raise ConfigError(f"'{path}': `images` holds {what} (shape {list(shape)}); it needs at least one image")
    if not (dtype == np.uint8 or np.issubdtype(dtype, np.floating)):
        raise ConfigError(f"'{path}': `images` must be uint8 (0-255) or float (0-1), but is {dtype}")
    labels = _labels(path)
    if len(labels) != shape[0]:
        raise ConfigError(f"'{path}': `images` has {shape[0]} samples but `labels` has {len(labels)}")
    channels = {"nchw": shape[1] if len(shape) == 4 else 1, "nhwc": shape[-1], "nhw": 1}[layout]
    classes = _header(path, "classes", required=False)
    declared = None
    if classes is not None:
        if len(classes[0]) != 1 or classes[0][0] < 1:
            raise ConfigError(f"'{path}': `classes` must be a 1-D array of at least one class name, "
                              f"but has shape {list(classes[0])}")
        declared = classes[0][0]
    found = int(labels.max()) + 1 if labels.size else 0
    if declared is not None and found > declared:
        raise ConfigError(f"'{path}': labels go up to {found - 1}, but `classes` names only {declared} classes")
    side = shape[2] if layout == "nchw" else shape[1]
    return DataInfo("npz", declared or found, channels, dc.resize or side, event=False,
                    classes_at_least=declared is None)


def build(cfg: Config, info: DataInfo) -> tuple[InMemoryDataset, InMemoryDataset]:
    dc = cfg.data
    path = _path(dc)
    images = _read(path, "images")
    layout = _layout(images.shape, path)
    if layout == "nhw":
        images = images[:, None]
    elif layout == "nhwc":
        images = images.transpose(0, 3, 1, 2)
    x = torch.from_numpy(np.ascontiguousarray(images))
    if x.dtype != torch.uint8:
        x = x.float()
    if dc.resize and dc.resize != x.shape[-1]:
        x = resize_square(x.float().div_(255.0) if x.dtype == torch.uint8 else x, dc.resize)
    full = InMemoryDataset(x, torch.from_numpy(_labels(path)), info)
    train, val = split_in_memory(dc, full)
    mean, std = channel_stats(train.images)
    train.mean, train.std = mean, std
    val.mean, val.std = mean, std
    return train, val
