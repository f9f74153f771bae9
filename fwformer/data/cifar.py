"""CIFAR-10 and CIFAR-100 from their canonical python-version folders (Krizhevsky, 2009).

`cifar-10-batches-py/` (data_batch_1..5, test_batch) and `cifar-100-python/` (train, test) under
`data.root`: pickled dicts with `data` (`[N, 3072]` uint8, channel-major) and `labels` /
`fine_labels`. When the folder is absent the official archive is downloaded (progress bar,
md5 checked) and extracted there; offline, one error says which file to put where.
"""
from __future__ import annotations

import hashlib
import pickle
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fwformer.config import Config, DataConfig
from fwformer.data.base import DataInfo, DataUnavailableError, InMemoryDataset, data_root, resize_square
from fwformer.data.splits import check_split, split_in_memory


@dataclass(frozen=True)
class CifarSpec:
    folder: str
    archive: str
    url: str
    md5: str
    classes: int
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    label_key: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


SPECS = {
    "cifar10": CifarSpec(
        "cifar-10-batches-py", "cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a", 10, tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",),
        "labels", (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
    ),
    "cifar100": CifarSpec(
        "cifar-100-python", "cifar-100-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85", 100, ("train",), ("test",),
        "fine_labels", (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762),
    ),
}


def info(dc: DataConfig) -> DataInfo:
    spec = SPECS[dc.name]
    check_split(dc, has_test=True)
    return DataInfo(dc.name, spec.classes, 3, dc.resize or 32, event=False)


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: Path, md5: str) -> None:
    """Fetch `url` to `dest` with a progress bar; a wrong checksum deletes the file and raises."""
    from tqdm import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".part")
    with urllib.request.urlopen(url, timeout=30) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with open(partial, "wb") as f, tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
            for block in iter(lambda: response.read(1 << 20), b""):
                f.write(block)
                bar.update(len(block))
    got = md5sum(partial)
    if got != md5:
        partial.unlink()
        raise DataUnavailableError(f"download of {url} has md5 {got}, expected {md5}; try again or download it by hand")
    partial.replace(dest)


def _missing_message(spec: CifarSpec, root: Path, why: str) -> str:
    return (f"{spec.folder} not found in '{root}' ({why}): it needs '{spec.archive}' (md5 {spec.md5}) from "
            f"{spec.url}; put the archive in '{root}' (it is checked and extracted there), or extract it so that "
            f"'{root / spec.folder}' exists, or point data.root at the folder that holds it")


def ensure_folder(dc: DataConfig) -> Path:
    """The extracted folder, downloading and extracting the archive first when needed."""
    spec = SPECS[dc.name]
    root = data_root(dc.root)
    folder = root / spec.folder
    if all((folder / f).is_file() for f in spec.train_files + spec.test_files):
        return folder
    archive = root / spec.archive
    if not archive.is_file():
        if not dc.download:
            raise DataUnavailableError(_missing_message(spec, root, "data.download=false"))
        try:
            download(spec.url, archive, spec.md5)
        except OSError as err:  # URLError, timeouts, no route: all OSErrors
            reason = getattr(err, "reason", None) or err
            raise DataUnavailableError(_missing_message(spec, root, f"download failed: {reason}")) from None
    elif md5sum(archive) != spec.md5:
        raise DataUnavailableError(f"'{archive}' has the wrong md5 (expected {spec.md5}); delete it and "
                                   f"download {spec.url} again")
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(root, filter="data")
    if not folder.is_dir():
        raise DataUnavailableError(f"'{archive}' did not contain the folder '{spec.folder}'")
    return folder


def _read_batches(folder: Path, files: tuple[str, ...], label_key: str) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = [], []
    for name in files:
        with open(folder / name, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[label_key.encode()], dtype=np.int64))
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


def build(cfg: Config, info: DataInfo) -> tuple[InMemoryDataset, InMemoryDataset]:
    dc = cfg.data
    spec = SPECS[dc.name]
    folder = ensure_folder(dc)
    parts = []
    for files in (spec.train_files, spec.test_files):
        images, labels = _read_batches(folder, files, spec.label_key)
        if dc.resize and dc.resize != 32:
            images = resize_square(images.float().div_(255.0), dc.resize)
        parts.append(InMemoryDataset(images, labels, info, mean=spec.mean, std=spec.std))
    return split_in_memory(dc, parts[0], parts[1])
