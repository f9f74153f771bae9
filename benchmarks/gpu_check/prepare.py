"""`python -m benchmarks.gpu_check prepare`: what must travel with the checkout to a device machine,
into `.device/` (ignored by git, so it travels only when the device call names it in `carry`).

A device machine has Python 3.12, PyTorch, Triton, CuPy, NumPy, SciPy, scikit-learn, PyYAML, tqdm and
pytest, but no network. The check needs the project's other imports of `fwformer.train`,
`benchmarks.mixers` and the tests it runs, as wheels (`WHEELS`, `pip download --no-deps`, at the
versions installed here, the ones CI tests), and the CIFAR-10 subset, copied from `../shared/data`
(which does not travel). Ray, MLflow and Optuna are not needed: the check trains through
`fwformer.train`, not `search.run`, and Ray's wheel alone is larger than a call can carry.
Then it prints the sizes and the device call to make.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Callable, Optional

from benchmarks.gpu_check.files import REPO
from benchmarks.gpu_check.plan import BUDGET_S, CIFAR_SUBSET_NAME, CIFAR_SUBSET_PLACES, DEVICE_FOLDER
from fwformer.cli import ConfigError

#: The wheels a device machine lacks, and who imports them.
WHEELS = {
    "spikingjelly": "every neuron",
    "loguru": "spikingjelly's logger",
    "omegaconf": "the configs (it vendors its ANTLR runtime)",
    "pytorch-wavelets": "the wavelet mixers",
    "PyWavelets": "pytorch-wavelets, which does not declare it",
    "setuptools": "pkg_resources for pytorch-wavelets (gone from setuptools 81; the device's may be newer)",
    "kornia": "RandAugment of the training recipe",
    "kornia_rs": "kornia",
}
#: What a device machine runs (KINDS.md of the device tool): CPython 3.12 on x86-64 Linux.
PYTHON_VERSION = "3.12"
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")
#: What a device call carries at most: the working tree, shared/ and the carried paths together.
CARRY_LIMIT_MB = 64.0
INSTALL = ("python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "
           ".device/wheels/*.whl && export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 && ")


def pinned(names=WHEELS) -> list[str]:
    """`name==version` of each wheel, at the version installed here."""
    out = []
    for name in names:
        try:
            out.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            raise ConfigError(f"'{name}' is not installed here, so its version is unknown; "
                              f"pip install -e \".[dev]\" first") from None
    return out


def _normalise(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def remove_stale(dest: Path, requirements: list[str]) -> list[Path]:
    """Delete the wheels in `dest` that `requirements` (`name==version`) do not ask for: two versions of
    one package stop the whole install on the device. Returns what was deleted."""
    wanted = {_normalise(r.split("==")[0]): r.split("==")[1] for r in requirements}
    stale = [w for w in dest.glob("*.whl") if wanted.get(_normalise(w.name.split("-")[0])) != w.name.split("-")[1]]
    for wheel in stale:
        wheel.unlink()
    return stale


def download_wheels(dest: Path, requirements: list[str], python_version: str) -> list[Path]:
    """The wheels of `requirements` for the device's Python, and no other version of them."""
    dest.mkdir(parents=True, exist_ok=True)
    remove_stale(dest, requirements)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version",
               python_version, "--implementation", "cp", *(a for p in PLATFORMS for a in ("--platform", p)),
               "-d", str(dest), *requirements]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(f"pip download failed for the device's Python {python_version}: {last}")
    return sorted(dest.glob("*.whl"))


def copy_cifar_subset(dest: Path, source: Optional[Path]) -> Optional[Path]:
    """The subset copied into `dest` (kept when already there); None when there is none to copy."""
    source = source or next((p for p in CIFAR_SUBSET_PLACES[1:] if p.is_file()), None)
    target = dest / CIFAR_SUBSET_NAME
    if source is None or not source.is_file():
        return target if target.is_file() else None
    dest.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or target.stat().st_size != source.stat().st_size:
        shutil.copyfile(source, target)
    return target


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def tree_mb() -> Optional[float]:
    """What git would send of the checkout: tracked files and untracked ones it does not ignore."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                                capture_output=True, check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        return None
    return sum((REPO / f).stat().st_size for f in listed if f and (REPO / f).is_file()) / 2**20


def device_call(budget_s: int) -> str:
    """The device tool's call: install the wheels, run the check within `budget_s`, with 90 s to spare
    for the install, the CUDA probe and the steps' start-up."""
    command = INSTALL + "python3 -m benchmarks.gpu_check --out $OUT/gpu_check"
    if budget_s != BUDGET_S:
        command += f" --budget {budget_s}"
    return f'run(command="{command}", carry=[".device"], timeout_s={budget_s + 90})'


def prepare(*, data: Optional[Path], python_version: str, budget_s: int,
            log: Callable[[str], None] = print) -> dict:
    requirements = pinned()
    wheels = download_wheels(DEVICE_FOLDER / "wheels", requirements, python_version)
    log(f"wheels for CPython {python_version}: {', '.join(w.name for w in wheels)}")
    subset = copy_cifar_subset(DEVICE_FOLDER / "data", data)
    if subset is None:
        log(f"no CIFAR-10 subset at {CIFAR_SUBSET_PLACES[1]} (pass --data PATH): on the device the training "
            f"step will be skipped")
    else:
        log(f"CIFAR-10 subset: {subset.relative_to(REPO)}")
    carried, tree = folder_mb(DEVICE_FOLDER), tree_mb()
    total = carried + (tree or 0.0)
    log(f"size: .device {carried:.1f} MiB" + (f" + working tree {tree:.1f} MiB = {total:.1f} MiB" if tree else "")
        + f" (a device call carries at most {CARRY_LIMIT_MB:.0f} MiB)")
    if total > CARRY_LIMIT_MB:
        raise ConfigError(f"what would travel is {total:.1f} MiB, over the device call's {CARRY_LIMIT_MB:.0f} MiB; "
                          f"remove large untracked files from the checkout")
    log("the device call (one command; the results come back in $OUT/gpu_check):")
    log("  " + device_call(budget_s))
    return dict(wheels=[w.name for w in wheels], subset=subset, carried_mb=carried, tree_mb=tree)
