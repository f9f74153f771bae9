"""Small datasets written in their genuine on-disk formats, for tests that read them back through
the real loaders (no network, no stand-in classes).

- `write_cifar_folder(root, "cifar10")`: `cifar-10-batches-py/` (or `cifar-100-python/`) exactly as
  the official python-version archive extracts: pickled dicts with `data` ([N, 3072] uint8,
  channel-major) and `labels` / `fine_labels` + `coarse_labels`, and the meta file.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def write_cifar_folder(root: Path, name: str = "cifar10", per_batch: int = 20, seed: int = 0) -> Path:
    """The extracted CIFAR folder under `root` with `per_batch` images per batch file.

    Labels cycle through the classes; the first image of every batch has constant colour planes
    (10, 20, 30) so a test can find it after loading.
    """
    from fwformer.data import cifar

    spec = cifar.SPECS[name]
    folder = Path(root) / spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, file in enumerate(spec.train_files + spec.test_files):
        labels = [int(v) for v in np.arange(per_batch) % spec.classes]
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        data[0, :1024], data[0, 1024:2048], data[0, 2048:] = 10, 20, 30  # one red/green/blue-plane marker
        batch = {b"batch_label": f"batch {i}".encode(), b"data": data,
                 b"filenames": [f"{j}.png".encode() for j in range(per_batch)]}
        if name == "cifar10":
            batch[b"labels"] = labels
        else:
            batch[b"fine_labels"], batch[b"coarse_labels"] = labels, [v // 5 for v in labels]
        with open(folder / file, "wb") as f:
            pickle.dump(batch, f, protocol=2)
    if name == "cifar10":
        meta_file = "batches.meta"
        meta = {b"label_names": [c.encode() for c in CIFAR10_CLASSES], b"num_cases_per_batch": per_batch,
                b"num_vis": 3072}
    else:
        meta_file = "meta"
        meta = {b"fine_label_names": [f"class{i}".encode() for i in range(100)],
                b"coarse_label_names": [f"super{i}".encode() for i in range(20)]}
    with open(folder / meta_file, "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return folder
