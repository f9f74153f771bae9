"""Trial checkpoints through Ray Tune's storage (`RunConfig(storage_path=...)`: a folder every node
sees, or a URI pyarrow reads such as s3://bucket/path), so a trial resumes on any node.

Every attempt of a trial trains in its own node-local folder (Ray's trial folder); after every epoch
the trainable reports that folder as a `ray.tune.Checkpoint` and Ray persists it to storage. Tune
itself hands the latest one back to a trial it restarts after an infrastructure failure; a trial
retried by `--resume` gets the storage address the driver recorded (`TrialRecord.checkpoint`). An
attempt only ever reads an earlier attempt's checkpoint, never writes into its folder, so a stale
writer (a trainable still running after its driver was killed) cannot overwrite a retry's state.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Optional

CHECKPOINT_FILES = ("checkpoint.pt", "config.yaml")


def address_of(checkpoint: Any) -> str:
    """A persisted `ray.tune.Checkpoint` as one string: its path, with the filesystem's scheme unless local."""
    fs = getattr(checkpoint.filesystem, "type_name", "local")
    return checkpoint.path if fs in ("local", "") else f"{fs}://{checkpoint.path}"


def open_checkpoint(address: str) -> Optional[Any]:
    """The checkpoint at `address`, or None when nothing is stored there (any more)."""
    from ray.tune import Checkpoint

    try:
        ckpt = Checkpoint(path=address)
        info = ckpt.filesystem.get_file_info(ckpt.path)
    except Exception:  # noqa: BLE001 - an unknown scheme, missing credentials, an unreachable store
        return None
    import pyarrow.fs

    return ckpt if info.type == pyarrow.fs.FileType.Directory else None


def exists(address: Optional[str]) -> bool:
    return bool(address) and open_checkpoint(address) is not None


def restore_into(out_dir: Path, checkpoint: Optional[Any]) -> bool:
    """Copy the checkpoint's files into `out_dir` (where `fwformer.train` resumes from); False if none."""
    if checkpoint is None:
        return False
    out_dir.mkdir(parents=True, exist_ok=True)
    with checkpoint.as_directory() as folder:
        found = False
        for name in CHECKPOINT_FILES:
            source = Path(folder) / name
            if source.is_file():
                shutil.copy2(source, out_dir / name)
                found = found or name == "checkpoint.pt"
    return found
