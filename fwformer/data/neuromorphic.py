"""`dvs128_gesture` and `cifar10_dvs`: event-camera datasets through spikingjelly's dataset classes.

spikingjelly integrates each recording into `T` frames holding equal numbers of events
(`split_by='number'`) with 2 polarity channels, 128x128, cached as `.npz` under
`data.root/<folder>/frames_number_<T>_split_by_number/`; `data.resize` shrinks frames on the
device. DVS128 Gesture has an official train/test split (1176 / 288); CIFAR10-DVS (10000
recordings) has none, so it is split stratified.

`spikingjelly.datasets` imports torchvision and torchaudio, which must be builds matching torch;
it is imported only here, when one of these datasets is used, and any failure becomes one error
that says what to install. Missing archives become one error listing the files and where to put
them (spikingjelly reads them from `<folder>/download/`).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fwformer.config import Config, DataConfig
from fwformer.data.base import DataInfo, DataUnavailableError, FolderDataset, data_root, stratified_split
from fwformer.data.splits import check_split


@dataclass(frozen=True)
class EventSpec:
    folder: str
    module: str
    cls: str
    classes: int
    files: tuple[str, ...]
    source: str
    downloadable: bool  # spikingjelly can fetch the files itself
    has_test: bool


SPECS = {
    "dvs128_gesture": EventSpec(
        "DVS128Gesture", "spikingjelly.datasets.dvs128_gesture", "DVS128Gesture", 11,
        ("DvsGesture.tar.gz", "gesture_mapping.csv", "LICENSE.txt", "README.txt"),
        "https://ibm.ent.box.com/s/3hiq58ww1pbbjrinh367ykfdf60xsfm8/folder/50167556794 "
        "(IBM's DVS128 Gesture page; no automatic download)", False, True,
    ),
    "cifar10_dvs": EventSpec(
        "CIFAR10DVS", "spikingjelly.datasets.cifar10_dvs", "CIFAR10DVS", 10,
        tuple(f"{c}.zip" for c in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                   "ship", "truck")),
        "https://figshare.com/articles/dataset/CIFAR10-DVS_New/4724671", True, False,
    ),
}
SENSOR_SIZE = 128


def info(dc: DataConfig) -> DataInfo:
    spec = SPECS[dc.name]
    check_split(dc, has_test=spec.has_test)
    return DataInfo(dc.name, spec.classes, 2, dc.resize or SENSOR_SIZE, event=True)


def check_files(dc: DataConfig) -> Path:
    """The dataset folder, once it holds either the converted events or every downloaded archive."""
    spec = SPECS[dc.name]
    folder = data_root(dc.root) / spec.folder
    if (folder / "events_np").is_dir():
        return folder
    download = folder / "download"
    missing = [f for f in spec.files if not (download / f).is_file()]
    if missing and not (spec.downloadable and dc.download):
        why = " (data.download=false)" if spec.downloadable else ""
        raise DataUnavailableError(
            f"dataset '{dc.name}' not found in '{folder}'{why}: download {', '.join(missing)} from {spec.source} "
            f"and put them in '{download}' (spikingjelly extracts and converts them on first use), "
            f"or point data.root at the folder that holds '{spec.folder}/'"
        )
    return folder


def import_dataset_class(dc: DataConfig) -> type:
    spec = SPECS[dc.name]
    try:
        module = importlib.import_module(spec.module)
    except Exception as err:  # torchvision/torchaudio builds that do not match torch fail in many ways
        import torch as _torch

        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise DataUnavailableError(
            f"dataset '{dc.name}' needs spikingjelly.datasets, whose import failed "
            f"({type(err).__name__}: {first}); it imports torchvision and torchaudio, which must be builds "
            f"matching torch {_torch.__version__}: install them from the same index as torch "
            f"(for a CPU-only torch: pip install torchvision torchaudio --index-url https://download.pytorch.org/whl/cpu)"
        ) from None
    return getattr(module, spec.cls)


class _Frames(torch.utils.data.Dataset):
    """spikingjelly's frames as float32 tensors `[T, 2, 128, 128]` (its `.npz` loader gives arrays)."""

    def __init__(self, base, index: np.ndarray | None = None):
        self.base = base
        self.index = np.arange(len(base)) if index is None else index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        frames, label = self.base[int(self.index[i])]
        return torch.as_tensor(np.asarray(frames, dtype=np.float32)), int(label)


def build(cfg: Config, info: DataInfo) -> tuple[FolderDataset, FolderDataset]:
    dc = cfg.data
    spec = SPECS[dc.name]
    folder = check_files(dc)
    cls = import_dataset_class(dc)
    common = dict(data_type="frame", frames_number=cfg.T, split_by="number")
    if spec.has_test:
        train_base, test_base = cls(str(folder), train=True, **common), cls(str(folder), train=False, **common)
        train_labels, test_labels = np.asarray(train_base.targets), np.asarray(test_base.targets)
        if dc.split == "test":
            return (FolderDataset(_Frames(train_base), train_labels, info),
                    FolderDataset(_Frames(test_base), test_labels, info))
        if dc.split == "all":
            both = torch.utils.data.ConcatDataset([_Frames(train_base), _Frames(test_base)])
            ds = FolderDataset(both, np.concatenate([train_labels, test_labels]), info)
            return ds, ds
        base, labels = train_base, train_labels
    else:
        base = cls(str(folder), **common)
        labels = np.asarray(base.targets)
        if dc.split == "all":
            ds = FolderDataset(_Frames(base), labels, info)
            return ds, ds
    train_idx, val_idx = stratified_split(labels, dc.val_fraction, dc.seed, name=dc.name)
    return (FolderDataset(_Frames(base, train_idx), labels[train_idx], info),
            FolderDataset(_Frames(base, val_idx), labels[val_idx], info))
