"""`python -m benchmarks.gpu_check`: the check (default) or `prepare`; options checked before anything runs."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

from benchmarks.gpu_check.files import REPO
from benchmarks.gpu_check.plan import BUDGET_S, STEPS, default_cifar_subset, plan
from benchmarks.gpu_check.runner import check_environment, passed, run_steps
from fwformer.cli import ConfigError, check_output_folder, closest, exit_on_user_error


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.gpu_check",
        description="The GPU check in one command: GPU tests, mixers on CUDA, neuron backends, short trainings; "
                    "a JSON per step and summary.json in --out. `prepare` gathers what a device machine needs.")
    p.add_argument("action", nargs="?", choices=("check", "prepare"), default="check",
                   help="check: run the steps (default); prepare: wheels and data into .device/, then print the "
                        "device call")
    check = p.add_argument_group("check")
    check.add_argument("--out", default=None, metavar="DIR", help="result folder (new or empty)")
    check.add_argument("--dry-run", action="store_true",
                       help="every step on the CPU at tiny sizes (under a minute); CUDA-only steps are skipped")
    check.add_argument("--budget", type=int, default=BUDGET_S, metavar="S",
                       help="seconds for all steps; a step gets its own box or what is left")
    check.add_argument("--only", nargs="+", default=(), metavar="STEP", help=f"run these steps only: {', '.join(STEPS)}")
    check.add_argument("--data", default=None, metavar="NPZ",
                       help="the CIFAR-10 subset (default: .device/data/, else ../shared/data/)")
    check.add_argument("--scratch", default=None, metavar="DIR",
                       help="logs and training run folders (default: a new temporary folder)")
    prep = p.add_argument_group("prepare")
    prep.add_argument("--python-version", default="3.12", help="the device's Python, for the wheels")
    return p


def _check_args(args: argparse.Namespace) -> None:
    if args.data is not None and not Path(args.data).is_file():
        raise ConfigError(f"--data '{args.data}' is not a file; it must be the CIFAR-10 subset (.npz)")
    if args.action == "prepare":
        if args.out or args.dry_run or args.only or args.scratch:
            raise ConfigError("--out, --dry-run, --only and --scratch belong to the check, not to prepare")
        return
    if args.out is None:
        raise ConfigError("--out DIR is required: the folder the step files and summary.json go to")
    out = Path(args.out)
    check_output_folder(out, "--out")
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"--out '{out}' already exists and is not empty; choose a new folder")
    if args.scratch:
        check_output_folder(args.scratch, "--scratch")
    for name in args.only:
        if name not in STEPS:
            raise ConfigError(f"unknown step '{name}'{closest(name, STEPS)}; expected one of: {', '.join(STEPS)}")
    if args.budget < 1:
        raise ConfigError(f"--budget must be >= 1 second, but got {args.budget}")


def probe_cuda(env: dict[str, str]) -> dict[str, Any]:
    """torch's view of the GPU, from a child process: this one keeps no CUDA context."""
    code = ("import json, torch; ok = torch.cuda.is_available(); print(json.dumps(dict(cuda=ok, torch=torch.__version__,"
            " gpu=torch.cuda.get_device_name(0) if ok else None, cuda_version=torch.version.cuda)))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(f"cannot import torch here ({last}); the check needs PyTorch")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@exit_on_user_error
def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    _check_args(args)
    if args.action == "prepare":
        from benchmarks.gpu_check.prepare import prepare

        prepare(data=Path(args.data) if args.data else None, python_version=args.python_version,
                budget_s=args.budget)
        return 0
    out = Path(args.out)
    env = check_environment(cpu_only=args.dry_run)
    command = "python -m benchmarks.gpu_check " + " ".join(sys.argv[1:] if argv is None else argv)
    header: dict[str, Any] = dict(check="gpu_check", dry_run=args.dry_run, command=command)
    if args.dry_run:
        header.update(cuda=False, gpu=None)
    else:
        header.update(probe_cuda(env))
        if not header["cuda"]:
            raise ConfigError(f"the check needs CUDA, but torch {header['torch']} sees no GPU; "
                              f"use --dry-run to run it on the CPU at tiny sizes")
    data = Path(args.data) if args.data else default_cifar_subset()
    scratch = Path(args.scratch) if args.scratch else Path(tempfile.mkdtemp(prefix="gpu_check_"))
    out.mkdir(parents=True, exist_ok=True)
    steps = plan(out, scratch, dry_run=args.dry_run, data=data, only=tuple(args.only))
    print(f"gpu check: {len(steps)} steps within {args.budget} s on "
          + (f"{header['gpu']}" if header["cuda"] else "the CPU (dry run)") + f"; logs in {scratch}", flush=True)
    summary = run_steps(steps, out, scratch, budget_s=args.budget, env=env, header=header,
                        log=lambda line: print(line, flush=True))
    ok = passed(summary)
    print(f"{'passed' if ok else 'FAILED'} in {summary['elapsed_s']:.0f} s; summary: {out / 'summary.json'}", flush=True)
    return 0 if ok else 1
