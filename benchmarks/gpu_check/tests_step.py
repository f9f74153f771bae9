"""The check's first step: the tests that need a GPU, and the model tests on CUDA; pass, or the exact
failures (`python -m benchmarks.gpu_check.tests_step --json FILE --scratch DIR [--cuda]`).

Two pytest runs, each in its own process with its share of the box:
- `gpu_marked`: `pytest -m gpu` over the test files that carry the marker (found by reading them:
  collecting the whole suite would import Ray and MLflow, which a device machine does not have);
  on the CPU they skip themselves, which a dry run checks;
- `model_tests_cuda` (`--cuda`): `MODEL_TESTS` with CUDA as the default device
  (`benchmarks.gpu_check.cuda_default`).
Failures are read from pytest's JUnit XML: test id, failure or error, message and the last lines.
Exit code 1 when a run failed.
"""
from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Optional

from benchmarks.gpu_check.files import REPO, tail, write_json
from benchmarks.gpu_check.plan import BOXES, box_seconds

#: The model's tests that run unchanged on CUDA as the default device.
MODEL_TESTS = ("tests/fwformer/test_model.py", "tests/fwformer/test_mixers.py", "tests/fwformer/test_state_contract.py")
GPU_MARK = "pytest.mark.gpu"


def gpu_marked_files(root: Path = REPO / "tests") -> list[str]:
    """The test files that use the marker: collecting the whole suite would import Ray and MLflow."""
    return sorted(str(p.relative_to(REPO)) for p in root.rglob("test_*.py") if GPU_MARK in p.read_text())


def read_junit(path: Path) -> dict[str, Any]:
    """Counts and the failures (failed tests and errors) of a JUnit XML report."""
    root = ET.parse(path).getroot()
    counts = dict(passed=0, failed=0, errors=0, skipped=0)
    failures = []
    for case in root.iter("testcase"):
        outcome = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
        if outcome is None:
            counts["passed"] += 1
            continue
        if outcome.tag == "skipped":
            counts["skipped"] += 1
            continue
        counts["failed" if outcome.tag == "failure" else "errors"] += 1
        failures.append(dict(test=f"{case.get('classname')}::{case.get('name')}", kind=outcome.tag,
                             message=(outcome.get("message") or "")[:500], last_lines=tail(outcome.text or "", 15)))
    return dict(counts=counts, failures=failures)


def _text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def timeout_option(seconds: int) -> list[str]:
    """pytest-timeout's per-test limit where the plugin is installed (the dev extra, the device image)."""
    return ["--timeout", str(seconds)] if importlib.util.find_spec("pytest_timeout") else []


def run_pytest(name: str, args: list[str], scratch: Path, timeout: float) -> dict[str, Any]:
    report = scratch / f"{name}.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *args]
    start = time.monotonic()
    try:
        proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        code, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as err:
        code, output = None, _text(err.stdout) + _text(err.stderr)
    run: dict[str, Any] = dict(command=" ".join(command[1:]), exit_code=code,
                               seconds=round(time.monotonic() - start, 1))
    if report.is_file():
        run.update(read_junit(report))
    if code is None:
        run["status"] = f"timeout after {timeout:.0f} s"
    elif code == 0:
        run["status"] = "pass"
    else:  # 1 failures, 2 interrupted (a collection error), 4 usage error, 5 no tests collected
        run["status"] = "fail"
    if run["status"] != "pass":
        run["last_lines"] = tail(output, 25)
    return run


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check.tests_step", description=__doc__.split("\n")[0])
    p.add_argument("--json", required=True, help="where the step's record goes")
    p.add_argument("--scratch", required=True, help="folder for pytest's XML reports")
    p.add_argument("--cuda", action="store_true", help="also run the model tests with CUDA as the default device")
    args = p.parse_args(argv)
    scratch = Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + box_seconds(BOXES["tests"]) - 2
    record: dict[str, Any] = dict(step="tests", runs={})
    files = gpu_marked_files()
    # The marked tests are few and quick; the model tests get what is left.
    share = (deadline - time.monotonic()) * (0.4 if args.cuda else 1.0)
    record["runs"]["gpu_marked"] = run_pytest("gpu_marked", ["-m", "gpu", *timeout_option(60), *files], scratch, share)
    write_json(args.json, record)
    if args.cuda:
        record["runs"]["model_tests_cuda"] = run_pytest(
            "model_tests_cuda", ["-p", "benchmarks.gpu_check.cuda_default", *timeout_option(60), *MODEL_TESTS],
            scratch, max(deadline - time.monotonic(), 1.0))
    else:
        record["runs"]["model_tests_cuda"] = dict(status="skipped: no CUDA")
    ok = all(r["status"] == "pass" or r["status"].startswith("skipped") for r in record["runs"].values())
    record["status"] = "pass" if ok else "fail"
    write_json(args.json, record)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
