"""The study's in-memory datasets reach the trial workers through Ray's object store as numpy arrays,
wrapped without copies; data that depends on the trial (event frames) is not shared."""
from __future__ import annotations

import numpy as np
import torch

from fwformer.config import load_config
from fwformer.data import build_datasets, with_data_geometry
from search.trials import datasets_of, shareable


def test_static_datasets_round_trip_without_copying():
    train, val, info = build_datasets(with_data_geometry(load_config("tiny", ["data=digits"])))
    shared = shareable((train, val, info))
    assert all(isinstance(shared[p][k], np.ndarray) for p in ("train", "val") for k in ("images", "labels"))
    # What a worker's ray.get returns: read-only arrays in shared memory.
    for part in ("train", "val"):
        for key in ("images", "labels"):
            shared[part][key] = shared[part][key].copy()
            shared[part][key].setflags(write=False)
    train2, val2, info2 = datasets_of(shared)
    assert info2 == info and len(train2) == len(train) and len(val2) == len(val)
    assert train2.images.data_ptr() == shared["train"]["images"].__array_interface__["data"][0], "no copy"
    assert torch.equal(train2.images, train.images) and torch.equal(val2.labels, val.labels)
    assert (train2.mean, train2.std) == (train.mean, train.std)


def test_event_frames_depend_on_T_and_are_not_shared():
    datasets = build_datasets(with_data_geometry(load_config("tiny", ["data=digits_dvs", "in_channels=2"])))
    assert datasets[2].event and shareable(datasets) is None
    assert datasets_of(None) is None
