"""Runs the steps one after another, each in its own process group with its own time box, so a hung
CUDA kernel or a crash costs that step only: it is recorded (fail, timeout) and the next one runs.

After every step its JSON exists (what the step wrote, or, when it wrote nothing, a record of why)
and `summary.json` is rewritten: what ran, its status, seconds, and the last lines of its output when
it failed. The summary marks the step in progress as `running`, so a check killed from outside still
says where it stopped. Output of each step goes to `<scratch>/<n>_<name>.log`, outside the result
folder (which must stay small enough to come back from a device machine).
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

from benchmarks.gpu_check.files import REPO, read_json, tail, write_json
from benchmarks.gpu_check.headlines import headline
from benchmarks.gpu_check.plan import BOX_VARIABLE, Step

#: A step is not started with less time than this left in the budget.
MIN_STEP_S = 10.0
SUMMARY = "summary.json"


def run_command(command: tuple[str, ...], *, box_s: float, log: Path, env: dict[str, str]) -> tuple[str, int]:
    """(status, exit code): 'pass' on exit 0, 'fail' otherwise, 'timeout' when it ran past `box_s`.
    The command's whole process group is killed when it ends or times out, so no child (a pytest
    worker, a training) lives on holding the GPU."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=box_s)
            status = "pass" if code == 0 else "fail"
        except subprocess.TimeoutExpired:
            status, code = "timeout", -signal.SIGKILL
        except BaseException:  # Ctrl-C: take the step down with the check
            _kill_group(proc)
            raise
        _kill_group(proc)
    return status, code


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def run_steps(steps: list[Step], out: Path, scratch: Path, *, budget_s: float, env: dict[str, str],
              header: dict[str, Any], log: Callable[[str], None] = print,
              min_step_s: float = MIN_STEP_S) -> dict[str, Any]:
    """Run `steps` in order within `budget_s` seconds (none starts with less than `min_step_s` left);
    returns the summary written to `out/summary.json`."""
    start = time.monotonic()
    records = [dict(step=s.name, file=s.file, about=s.about, status="pending", seconds=None, box_s=s.box_s,
                    command=" ".join(s.command)) for s in steps]
    summary: dict[str, Any] = dict(header, budget_s=budget_s, started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                   finished=False, elapsed_s=0.0, steps=records)
    width = max((len(s.name) for s in steps), default=0)
    for n, (step, record) in enumerate(zip(steps, records), 1):
        remaining = budget_s - (time.monotonic() - start)
        status, error = step.skip, []
        if not status and remaining < min_step_s:
            status = "skipped: out of time"
        if not status:
            box = min(step.box_s, remaining)
            record.update(status="running", box_s=round(box, 1))
            summary["elapsed_s"] = round(time.monotonic() - start, 1)
            write_json(out / SUMMARY, summary)
            step_start = time.monotonic()
            logfile = scratch / f"{Path(step.file).stem}.log"
            status, code = run_command(step.command, box_s=box, log=logfile,
                                       env={**env, BOX_VARIABLE: f"{box:.1f}"})
            record.update(seconds=round(time.monotonic() - step_start, 1), exit_code=code, log=str(logfile))
            if status != "pass":
                error = tail(logfile.read_text(errors="replace"))
                if status == "timeout":
                    error.append(f"(killed after its box of {box:.0f} s)")
        record["status"] = status
        if error:
            record["error"] = error
        payload = read_json(out / step.file)
        if payload is None:  # the step wrote nothing: its file says why
            write_json(out / step.file, dict(step=step.name, status=status, error=error))
        else:
            record["headline"] = headline(step.name, payload)
        summary["elapsed_s"] = round(time.monotonic() - start, 1)
        write_json(out / SUMMARY, summary)
        seconds = f"{record['seconds']:6.1f} s" if record["seconds"] is not None else " " * 8
        note = record.get("headline") or (error[-1] if error else "")
        log(f"[{n}/{len(steps)}] {step.name:<{width}}  {status:<8} {seconds}  {step.file}"
            + (f"  {note}" if note else ""))
    summary.update(finished=True, elapsed_s=round(time.monotonic() - start, 1))
    write_json(out / SUMMARY, summary)
    return summary


def passed(summary: dict[str, Any]) -> bool:
    """No step failed or timed out (skipped ones do not count against it)."""
    return all(r["status"] == "pass" or r["status"].startswith("skipped") for r in summary["steps"])


def check_environment(*, cpu_only: bool) -> dict[str, str]:
    """The steps' environment: the repository importable, output unbuffered, no MLflow logging from a
    user's shell, and no GPU at all in a dry run (it runs on the CPU even on a GPU machine)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.pop("MLFLOW_TRACKING_URI", None)
    if cpu_only:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env
