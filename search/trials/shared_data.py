"""The study's data, loaded once by the driver and shared with every trial worker of a node.

Without it every trial worker loads and splits the dataset itself: a copy per worker (CIFAR-10's
training images are 150 MB as uint8, more after the split's copies), plus the libraries the loading
needs (scikit-learn for the split). Instead the driver's datasets (what `search.run.plan` loaded to check
them) go into Ray's object store once, as numpy arrays, through Ray Tune's `tune.with_parameters`;
a worker's `ray.get` maps them zero-copy from the node's shared memory (numpy arrays in the object
store are shared by the workers of a node), and `torch.from_numpy` wraps them without copying.

Only in-memory static datasets are shared (digits, npz, CIFAR): their samples do not depend on the
trial's architecture. Event frames depend on T, and the recorded event sets are read from their
memory-mapped frame caches, which the page cache already shares; trials load those themselves.
"""
from __future__ import annotations

import warnings
from typing import Any, Optional


def shareable(datasets: Optional[tuple]) -> Optional[dict[str, Any]]:
    """The plain form of `(train, val, info)` for the object store, or None when it should not be shared."""
    from fwformer.data.base import InMemoryDataset

    if datasets is None:
        return None
    train, val, info = datasets
    if info.event or not (isinstance(train, InMemoryDataset) and isinstance(val, InMemoryDataset)):
        return None

    def part(ds: InMemoryDataset) -> dict[str, Any]:
        return {"images": ds.images.numpy(), "labels": ds.labels.numpy(), "mean": ds.mean, "std": ds.std}

    return {"train": part(train), "val": part(val), "info": info}


def datasets_of(shared: Optional[dict[str, Any]]) -> Optional[tuple]:
    """`(train, val, info)` over the shared arrays, without copying them (None passes through)."""
    if shared is None:
        return None
    import torch

    from fwformer.data.base import InMemoryDataset

    def part(p: dict[str, Any]) -> InMemoryDataset:
        with warnings.catch_warnings():  # the object store's arrays are read-only; the datasets never write them
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            images, labels = torch.from_numpy(p["images"]), torch.from_numpy(p["labels"])
        return InMemoryDataset(images, labels, shared["info"], mean=p["mean"], std=p["std"])

    return part(shared["train"]), part(shared["val"]), shared["info"]
