"""What both benchmarks share: machine and code provenance, medians, timers, JSON output."""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CIFAR_SUBSET = SHARED_DATA / "cifar10_train_subset.npz"


def git_commit() -> str:
    """`git rev-parse --short HEAD`, with `+dirty` when tracked files differ or benchmark/library
    files are untracked (the figures then come from uncommitted work)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=normal"], cwd=REPO,
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+uncommitted" if status.strip() else "")


def source_digest(*packages: str) -> str:
    """A short hash of the packages' .py files: tells apart runs on different uncommitted code."""
    import hashlib

    h = hashlib.sha256()
    for package in packages:
        for path in sorted((REPO / package).rglob("*.py")):
            h.update(str(path.relative_to(REPO)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def machine_info(device: str = "cpu") -> dict[str, Any]:
    import torch

    info = dict(
        date=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        commit=git_commit(),
        source_digest=source_digest("fwformer", "space", "search"),
        host=platform.node(),
        python=platform.python_version(),
        torch=torch.__version__,
        cpu=cpu_model(),
        cores=usable_cores(),
        torch_threads=torch.get_num_threads(),
        device=device,
        gpu=None,
        cuda=None,
        load_average=list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    )
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    return info


def median(values: Iterable[float]) -> Optional[float]:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def quartiles(values: Sequence[float]) -> Optional[tuple[float, float]]:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    if len(values) < 4:
        return (values[0], values[-1])
    q = statistics.quantiles(values, n=4)
    return (q[0], q[2])


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def time_per_call(fn: Callable[[], Any], calls: int, device: str) -> tuple[float, float]:
    """(wall, process CPU) seconds per call of `fn`, averaged over `calls` back-to-back calls.

    Wall time includes device work (synchronised). Process CPU time counts the CPU work of every
    thread of this process and not the time other processes held the cores, so on a shared CPU it
    measures the work a call costs rather than the scheduler; it means little for CUDA work.
    """
    synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        fn()
    synchronize(device)
    return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls


def write_json(path: str | Path, payload: dict[str, Any]) -> Path:
    return write_whole(path, (json.dumps(payload, indent=1, default=_jsonable) + "\n").encode())


def write_whole(path: str | Path, data: bytes) -> Path:
    """Write `data` whole or not at all: into a temporary file beside `path`, then renamed over it.
    The caches of long benchmarks are rewritten after every training, and a process killed in the
    middle of a plain write would leave a truncated file that loses every training before it."""
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def fmt(value: Optional[float], spec: str = ".3g", missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def check_outputs(files: dict[str, Any] = {}, folders: dict[str, Any] = {}) -> None:  # noqa: B006 - read only
    """Every output option of a benchmark CLI (`--json FILE`, `--plot FILE`, `--workdir DIR`, ...) can be
    written, checked before any work with the checks every CLI shares (`fwformer.locations`)."""
    from fwformer.locations import check_output_file, check_output_folder

    for option, path in files.items():
        if path is not None:
            check_output_file(Path(path), option)
    for option, path in folders.items():
        if path is not None:
            check_output_folder(Path(path), option)
