"""Event-camera recordings on disk, read through tonic's dataset classes.

tonic keeps every set under `<data.root>/<tonic class name>/` in the layout its archives extract to:

| `data.name` | tonic class | parts (folders) | samples, tonic's copy |
|---|---|---|---|
| `dvs128_gesture` | `DVSGesture` | `ibmGestureTrain/`, `ibmGestureTest/`: `userNN_<light>/<label>.npy` | 1077 / 264 |
| `cifar10_dvs` | `CIFAR10DVS` | `<class>/*.aedat4` (no official split) | 10000 |
| `nmnist` | `NMNIST` | `Train/`, `Test/`: `<digit>/<id>.bin` | 60000 / 10000 |

tonic's classes decide that a set is present from the downloaded archive still lying beside the
extracted files and a minimum file count (100 / 1000 / 10000), and download it again otherwise.
Here the extracted files are checked instead (any recording of the part is enough, so a copy whose
archives were deleted is never fetched again), and tonic's class is told they are there by
overriding `_check_exists`, its per-dataset hook (tonic's own test suite does the same). Missing
files are downloaded by tonic's class itself (its URLs, progress bar and md5 check) unless
`data.download=false`; an archive put in the folder by hand is checked and extracted offline.
"""
from __future__ import annotations

import importlib
import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from fwformer.data.base import DataUnavailableError


@dataclass(frozen=True)
class Part:
    name: str  # "train" | "test" | "all"
    folder: str  # where the part's recordings lie, relative to the dataset folder ("" = the folder itself)
    kwargs: tuple[tuple[str, object], ...]  # tonic constructor arguments selecting the part
    archive_attrs: tuple[str, str, str]  # tonic class attributes: (file name, url, md5)
    published: int  # samples in tonic's copy of the full set


@dataclass(frozen=True)
class EventSet:
    tonic_class: str
    classes: int
    sensor: int  # square sensor side in pixels
    suffix: str  # recording file type
    parts: tuple[Part, ...]
    needs: Optional[str] = None  # a module tonic imports only when reading this set

    def part(self, name: str) -> Part:
        return next(p for p in self.parts if p.name == name)


EVENT_SETS = {
    "dvs128_gesture": EventSet("DVSGesture", 11, 128, ".npy", (
        Part("train", "ibmGestureTrain", (("train", True),), ("train_filename", "train_url", "train_md5"), 1077),
        Part("test", "ibmGestureTest", (("train", False),), ("test_filename", "test_url", "test_md5"), 264),
    )),
    "cifar10_dvs": EventSet("CIFAR10DVS", 10, 128, ".aedat4", (
        Part("all", "", (), ("filename", "url", "file_md5"), 10000),
    ), needs="aedat"),
    "nmnist": EventSet("NMNIST", 10, 34, ".bin", (
        Part("train", "Train", (("train", True),), ("train_filename", "train_url", "train_md5"), 60000),
        Part("test", "Test", (("train", False),), ("test_filename", "test_url", "test_md5"), 10000),
    )),
}


def tonic_class(spec: EventSet) -> type:
    import tonic.datasets

    return getattr(tonic.datasets, spec.tonic_class)


def archive(spec: EventSet, part: Part) -> tuple[str, str, str]:
    """(file name, url, md5) of a part's archive, as the installed tonic declares them."""
    cls = tonic_class(spec)
    return tuple(getattr(cls, attr) for attr in part.archive_attrs)  # type: ignore[return-value]


def dataset_folder(root: Path, spec: EventSet) -> Path:
    return root / spec.tonic_class


def recordings(folder: Path, spec: EventSet, part: Part) -> list[Path]:
    return sorted((folder / part.folder).glob(f"**/*{spec.suffix}"))


def _missing_message(name: str, spec: EventSet, folder: Path, missing: list[Part], why: str) -> str:
    needed = "; ".join(
        f"'{p.folder or '<class>'}/' with its {spec.suffix} files, from {a[0]} (md5 {a[2]}, {a[1]})"
        for p, a in ((p, archive(spec, p)) for p in missing)
    )
    return (f"dataset '{name}' not found in '{folder}' ({why}): it needs {needed}; put the archives in "
            f"'{folder}' (they are checked and extracted there) or extract them there, or point data.root "
            f"at the folder that holds '{spec.tonic_class}/'")


def ensure_extracted(name: str, root: Path, download: bool) -> Path:
    """The dataset folder once every part has its recordings, fetching or extracting archives first."""
    from tonic.download_utils import check_integrity

    spec = EVENT_SETS[name]
    if spec.needs and importlib.util.find_spec(spec.needs) is None:
        raise DataUnavailableError(f"dataset '{name}' needs the '{spec.needs}' package, which tonic uses to read "
                                   f"its {spec.suffix} files: pip install {spec.needs}")
    folder = dataset_folder(root, spec)
    missing = [p for p in spec.parts if not recordings(folder, spec, p)]
    for part in missing:
        filename, url, md5 = archive(spec, part)
        path = folder / filename
        if path.is_file() and not check_integrity(str(path), md5):
            raise DataUnavailableError(f"'{path}' has the wrong md5 (expected {md5}); delete it and download {url} "
                                       f"again, or extract it by hand into '{folder}'")
        if not path.is_file() and not download:
            raise DataUnavailableError(_missing_message(name, spec, folder, missing, "data.download=false"))
        _fetch_with_tonic(name, spec, part, root, path, missing)
        if not recordings(folder, spec, part):
            raise DataUnavailableError(f"'{path}' was extracted in '{folder}' but no {spec.suffix} files of "
                                       f"'{part.folder or '<class>'}/' appeared; is it the right archive?")
    return folder


def _fetch_with_tonic(name: str, spec: EventSet, part: Part, root: Path, path: Path, missing: list[Part]) -> None:
    """tonic's class downloads (progress bar, md5) and extracts what its `_check_exists` finds absent."""
    try:
        tonic_class(spec)(str(root), **dict(part.kwargs))
    except RuntimeError as err:  # tonic's md5 check: "File not found or corrupted."
        _, url, md5 = archive(spec, part)
        path.unlink(missing_ok=True)
        raise DataUnavailableError(f"download of {url} failed the md5 check (expected {md5}; {err}); the file was "
                                   f"removed, try again") from None
    except OSError as err:  # URLError, timeouts, no route, a full disk: all OSErrors
        reason = getattr(err, "reason", None) or err
        folder = dataset_folder(root, spec)
        raise DataUnavailableError(_missing_message(name, spec, folder, missing, f"download failed: {reason}")) from None


def open_part(name: str, folder: Path, part_name: str, *, warn: bool = True):
    """tonic's dataset object over the extracted recordings of one part (it never downloads)."""
    spec = EVENT_SETS[name]
    part = spec.part(part_name)
    cls = tonic_class(spec)
    # tonic puts a set in `<save_to>/<class name>`, so the subclass keeps the name.
    extracted = type(cls.__name__, (cls,), {"_check_exists": lambda self: True})
    ds = extracted(str(folder.parent), **dict(part.kwargs))
    if warn and len(ds) < part.published:
        warnings.warn(f"dataset '{name}' ({part.name}): {len(ds)} recordings in '{folder / part.folder}', "
                      f"tonic's copy of the full set has {part.published}; results will not compare with "
                      f"published ones", stacklevel=2)
    return ds


def check_readable(name: str) -> None:
    """Import tonic (and what it reads this set with) or say what to install."""
    try:
        importlib.import_module("tonic.datasets")
    except Exception as err:  # noqa: BLE001 - any import failure becomes one line
        raise DataUnavailableError(f"dataset '{name}' is read with tonic, whose import failed "
                                   f"({type(err).__name__}: {err}); pip install 'tonic>=1.6,<2'") from None
