"""Integrated event frames cached on disk: built once per (dataset, part, T, split mode, size), then
read by every run and every trial of a search.

A cache is a folder `<part>-T<T>-<by>-<size>px/` holding `frames.npy` (int16 `[N, T, 2, S, S]`,
memory-mapped when read), `labels.npy` (int64 `[N]`), `files.txt` (the source recordings, one per
sample, relative to the dataset folder) and `meta.json`, written last. It is built under a temporary
name and renamed into place in one step, so a reader sees either no cache or a complete one; a
build killed half-way leaves only a `.tmp-` folder that is never read. Builders of the same cache
take a lock file first (where the OS has `fcntl`), so concurrent trials build it once and the others
wait and read it; without the lock the rename still keeps the cache whole (the last builder's copy
is discarded).
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np
import torch

FORMAT = 1  # bump when the layout or the integration changes: older caches are then rebuilt


@dataclass(frozen=True)
class FrameKey:
    dataset: str
    part: str  # "train" | "test" | "all"
    T: int
    by: str  # "count" | "time"
    size: int

    @property
    def folder(self) -> str:
        return f"{self.part}-T{self.T}-{self.by}-{self.size}px"


def _meta_of(key: FrameKey, count: int) -> dict:
    return {"format": FORMAT, "key": asdict(key), "count": count}


def is_complete(folder: Path, key: FrameKey) -> bool:
    """Whether `folder` holds a finished cache for `key` (its meta written last, its arrays the right shape)."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format") != FORMAT or meta.get("key") != asdict(key):
            return False
        frames = np.load(folder / "frames.npy", mmap_mode="r")
        labels = np.load(folder / "labels.npy")
    except (OSError, ValueError):
        return False
    n = meta.get("count")
    return frames.shape == (n, key.T, 2, key.size, key.size) and labels.shape == (n,)


@contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # no advisory locks (Windows): concurrent builders each build, the rename keeps one
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class FrameWriter:
    """Filled by a build function: `writer.frames[i] = ...`, `writer.labels[i] = ...`, `writer.files[i] = ...`."""

    def __init__(self, folder: Path, key: FrameKey, count: int):
        self.folder, self.key, self.count = folder, key, count
        shape = (count, key.T, 2, key.size, key.size)
        self.frames = np.lib.format.open_memmap(folder / "frames.npy", mode="w+", dtype=np.int16, shape=shape)
        self.labels = np.full(count, -1, np.int64)
        self.files = [""] * count

    def finish(self) -> None:
        assert (self.labels >= 0).all(), "every sample needs a label"
        self.frames.flush()
        del self.frames  # closes the memory map
        np.save(self.folder / "labels.npy", self.labels)
        (self.folder / "files.txt").write_text("\n".join(self.files) + "\n")
        for name in ("frames.npy", "labels.npy", "files.txt"):
            with open(self.folder / name, "rb") as f:
                os.fsync(f.fileno())
        (self.folder / "meta.json").write_text(json.dumps(_meta_of(self.key, self.count), indent=1))


def load_or_build(directory: Path, key: FrameKey, count: Callable[[], int],
                  build: Callable[[FrameWriter], None]) -> Path:
    """The complete cache folder for `key` under `directory`, built first by `build` when there is none.

    count: the number of samples (called only when building); build: fills the writer it is given.
    """
    final = directory / key.folder
    if is_complete(final, key):
        return final
    directory.mkdir(parents=True, exist_ok=True)
    with _build_lock(directory / f".{key.folder}.lock"):
        if is_complete(final, key):  # built by someone else while we waited
            return final
        tmp = directory / f".{key.folder}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            writer = FrameWriter(tmp, key, count())
            build(writer)
            writer.finish()
            _publish(tmp, final, key)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _publish(tmp: Path, final: Path, key: FrameKey) -> None:
    if final.exists():  # an incomplete or outdated cache under the final name: move it aside first
        if is_complete(final, key):
            return  # another builder (without the lock) finished first
        stale = final.with_name(f".{final.name}.stale-{uuid.uuid4().hex[:8]}")
        os.rename(final, stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.rename(tmp, final)
    except OSError:
        if not is_complete(final, key):
            raise


class CachedFrames(torch.utils.data.Dataset):
    """Samples `(frames int16 [T, 2, S, S], label)` of a cache folder, optionally a subset `index`.

    The memory map is opened lazily in each process (DataLoader workers get a closed copy), so the
    page cache is shared by every worker and every trial reading the same cache.
    """

    def __init__(self, folder: Path, index: Optional[np.ndarray] = None):
        self.folder = Path(folder)
        all_labels = np.load(self.folder / "labels.npy")
        self.index = np.arange(len(all_labels)) if index is None else np.asarray(index, dtype=np.int64)
        self.labels = all_labels[self.index]
        self._frames = None

    def __len__(self) -> int:
        return len(self.index)

    def __getstate__(self):
        return {**self.__dict__, "_frames": None}

    def __getitem__(self, i: int):
        if self._frames is None:
            self._frames = np.load(self.folder / "frames.npy", mmap_mode="r")
        return torch.from_numpy(np.array(self._frames[self.index[i]])), int(self.labels[i])

    @property
    def files(self) -> list[str]:
        """The source recording of every sample, relative to the dataset folder."""
        names = (self.folder / "files.txt").read_text().splitlines()
        return [names[i] for i in self.index]

    def subset(self, index: np.ndarray) -> "CachedFrames":
        return CachedFrames(self.folder, self.index[np.asarray(index, dtype=np.int64)])
