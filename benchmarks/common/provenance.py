"""Where a figure came from: the repository, the machine, the code and the data paths every benchmark records."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
#: The datasets shared beside the repository (`../shared/data`); a benchmark that needs one says so when it is absent.
SHARED_DATA = REPO.parent / "shared" / "data"
CIFAR_SUBSET = SHARED_DATA / "cifar10_train_subset.npz"
#: Where the benchmark pages live: the commands write the figures the pages show here.
PAGES = REPO / "docs" / "benchmarks"


def git_commit() -> str:
    """`git rev-parse --short HEAD`, with `+uncommitted` when tracked files differ or files are
    untracked (the figures then come from uncommitted work)."""
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


#: The libraries whose versions can move a figure, recorded with every result.
LIBRARIES = ("torch", "spikingjelly", "numpy", "optuna", "scipy")


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine_info(device: str = "cpu") -> dict[str, Any]:
    """Date, commit, source digest, host, CPU, cores, threads, device and library versions: what a
    result file records beside its figures."""
    import torch

    info = dict(
        date=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        commit=git_commit(),
        source_digest=source_digest("fwformer", "space", "search"),
        host=platform.node(),
        python=platform.python_version(),
        torch=torch.__version__,
        libraries=library_versions(),
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
