"""What the check runs: its steps in order, each a command with its time box, at full size on CUDA or
at tiny sizes on the CPU (`--dry-run`).

The boxes add up to the default budget (`BUDGET_S`, under 8 minutes with the install and start-up
around it); the mixers benchmark on the event geometry comes last because it runs only if time allows.
Each step writes `<n>_<name>.json` itself; the mixers steps' file is the mixers benchmark's usual JSON.
A step learns its box from `$GPU_CHECK_BOX_S` (`box_seconds`), to share it among its own parts.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from benchmarks.gpu_check.files import REPO

#: Seconds the whole check may take by default, and each step's share (full size, on one H100/H200).
BUDGET_S = 450
BOXES = {"tests": 55, "mixers_fp32": 65, "mixers_bf16": 65, "neurons": 75, "training": 150, "mixers_events": 40}
STEPS = tuple(BOXES)
#: The variable through which the runner tells a step how many seconds it has.
BOX_VARIABLE = "GPU_CHECK_BOX_S"
#: Where `prepare` copies the CIFAR-10 subset; the check reads it there, else beside the repository.
DEVICE_FOLDER = REPO / ".device"
CIFAR_SUBSET_NAME = "cifar10_train_subset.npz"
CIFAR_SUBSET_PLACES = (DEVICE_FOLDER / "data" / CIFAR_SUBSET_NAME, REPO.parent / "shared" / "data" / CIFAR_SUBSET_NAME)
#: The mixers of the event geometry: FWformer's own table rows and the two references.
EVENT_MIXERS = ("ssa", "fft1d", "fft2d", "dwt-haar", "dwtc", "identity")
#: The timing options of the mixers benchmark on CUDA: 5 interleaved rounds instead of 20, no energy
#: (the training step measures it at real firing rates) and no isolated mixers, to fit the boxes.
MIXERS_CUDA = ("--device", "cuda", "--repeats", "5", "--min-time", "0.05", "--no-energy", "--no-isolated")
MIXERS_TINY = ("--device", "cpu", "--geometry", "small", "--mixers", "ssa", "fft2d", "identity", "--batch", "1",
               "--repeats", "1", "--min-time", "0", "--warmup", "0", "--no-memory", "--no-energy", "--no-isolated",
               "--threads", "1")


@dataclass(frozen=True)
class Step:
    name: str
    command: tuple[str, ...]  # run in the repository
    box_s: float  # the most seconds it may run
    file: str  # the JSON it writes in the output folder
    skip: str = ""  # 'skipped: why' when it must not run here
    about: str = ""  # one line: what it measures


def box_seconds(default: float) -> float:
    """The seconds the running step has (set by the runner), or `default` when run by hand."""
    return float(os.environ.get(BOX_VARIABLE, default))


def default_cifar_subset() -> Optional[Path]:
    return next((p for p in CIFAR_SUBSET_PLACES if p.is_file()), None)


def plan(out: Path, scratch: Path, *, dry_run: bool, data: Optional[Path], only: tuple[str, ...] = ()) -> list[Step]:
    """The steps, in order, with their commands; `only` keeps the named ones (their numbers stay)."""
    py = sys.executable
    file = {name: f"{n}_{name}.json" for n, name in enumerate(STEPS, 1)}
    path = {name: str(out / f) for name, f in file.items()}
    no_cuda = "skipped: no CUDA" if dry_run else ""
    tiny = ("--tiny",) if dry_run else ()
    if dry_run:
        training_data: tuple[str, ...] = ()
        no_data = ""
    else:
        training_data = ("--data", str(data)) if data else ()
        no_data = "" if data else (f"skipped: no CIFAR-10 subset (looked in {', '.join(map(str, CIFAR_SUBSET_PLACES))}; "
                                   f"run `python -m benchmarks.gpu_check prepare` or pass --data)")
    mixers = MIXERS_TINY if dry_run else (*MIXERS_CUDA, "--geometry", "spikformer-4-384")
    steps = [
        Step("tests", (py, "-m", "benchmarks.gpu_check.tests_step", "--json", path["tests"], "--scratch",
                       str(scratch / "tests"), *(() if dry_run else ("--cuda",))),
             BOXES["tests"], file["tests"],
             about="pytest -m gpu, and the model tests with CUDA as the default device"),
        Step("mixers_fp32", (py, "-m", "benchmarks.mixers", *mixers, "--json", path["mixers_fp32"]),
             BOXES["mixers_fp32"], file["mixers_fp32"],
             about="every mixer at Spikformer-4-384, real batch, fp32: img/s, peak memory, ratios"),
        Step("mixers_bf16", (py, "-m", "benchmarks.mixers", *mixers, "--amp", "--json", path["mixers_bf16"]),
             BOXES["mixers_bf16"], file["mixers_bf16"], skip=no_cuda,
             about="the same under bf16 autocast (as training runs)"),
        Step("neurons", (py, "-m", "benchmarks.gpu_check.neurons", "--json", path["neurons"], *tiny),
             BOXES["neurons"], file["neurons"],
             about="LIF backends and torch.compile: exact against the Torch path, and their speed-ups"),
        Step("training", (py, "-m", "benchmarks.gpu_check.training", "--json", path["training"], "--scratch",
                          str(scratch / "training"), *training_data,
                          "--mixers-json", path["mixers_bf16"], *tiny),
             BOXES["training"], file["training"], skip=no_data,
             about="2 epochs on the CIFAR-10 subset, ssa and the fastest fixed mixer, alone then two at once"),
        Step("mixers_events", (py, "-m", "benchmarks.mixers", *MIXERS_CUDA, "--geometry", "spikformer-2-256",
                               "--amp", "--mixers", *EVENT_MIXERS, "--json", path["mixers_events"]),
             BOXES["mixers_events"], file["mixers_events"], skip=no_cuda,
             about="FWformer's mixers at the Spikformer-2-256 event geometry, bf16, if time allows"),
    ]
    return [s for s in steps if not only or s.name in only]
