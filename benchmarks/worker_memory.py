"""Resident memory of a search's trial workers against the same training run alone.

    python -m benchmarks.worker_memory [--study quickstart] [--trials 4] [--epochs 3] [--json FILE]

Runs `python -m search.run --study STUDY` (shrunk to `--trials` trials of `--epochs` epochs, two at a
time) in a scratch folder and samples, every 0.2 s, every process of its session from
`/proc/PID/smaps_rollup`: RSS (what `ps` shows), PSS (shared pages divided among the processes
that map them: what the processes cost the machine together) and USS (private pages: what ending
the process frees). Trial workers are Ray's processes that ran a trial (`ray::ImplicitFunc`,
`ray::_Inner...`); the peak of each over the run is reported. Then one trial's training alone,
`python -m fwformer.train` with the same config in a fresh process, sampled the same way, and the
import cost of a worker's modules (ray.tune, torch, the trainable) in a bare interpreter.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Optional

from benchmarks.common import REPO, check_outputs, machine_info, write_json
from fwformer.errors import exit_on_user_error


def rollup(pid: int) -> Optional[dict[str, float]]:
    """{rss, pss, uss} in MB of one process, or None when it has gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    kb = {}
    for line in text.splitlines()[1:]:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            kb[key] = int(parts[0])
    uss = kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)
    return {"rss": kb.get("Rss", 0) / 1024, "pss": kb.get("Pss", 0) / 1024, "uss": uss / 1024}


def session_processes(sid: int) -> dict[int, str]:
    """pid -> command line of every process in session `sid`."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[3]) != sid:  # field 6 of stat: session id
                continue
            out[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
    return out


class Sampler(threading.Thread):
    """Peaks of every process of a session, by pid, until stopped."""

    def __init__(self, sid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.sid, self.every = sid, every
        self.peaks: dict[int, dict[str, Any]] = {}
        self.total_pss_peak = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            total = 0.0
            for pid, cmd in session_processes(self.sid).items():
                m = rollup(pid)
                if m is None:
                    continue
                total += m["pss"]
                peak = self.peaks.setdefault(pid, {"cmd": cmd, "rss": 0.0, "pss": 0.0, "uss": 0.0})
                peak["cmd"] = cmd if "ray::" in cmd else peak["cmd"]  # Ray renames its workers once they run
                for k in ("rss", "pss", "uss"):
                    peak[k] = max(peak[k], m[k])
            self.total_pss_peak = max(self.total_pss_peak, total)
            time.sleep(self.every)


def is_trial_worker(cmd: str) -> bool:
    return "ray::ImplicitFunc" in cmd or "ray::_Inner" in cmd or "ray::run_trial" in cmd


def sampled(command: list[str], cwd: Path, env: dict) -> tuple[subprocess.CompletedProcess, Sampler, float]:
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    sampler = Sampler(proc.pid)
    sampler.start()
    start = time.time()
    out, _ = proc.communicate()
    sampler.done.set()
    sampler.join()
    return subprocess.CompletedProcess(command, proc.returncode, out, ""), sampler, time.time() - start


def import_cost(modules: str) -> float:
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts at its forking parent's, this benchmark's.
    code = (f"import {modules}; print(next(int(line.split()[1]) for line in open('/proc/self/status') "
            f"if line.startswith('VmHWM')) / 1024)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.worker_memory", description=__doc__.split("\n\n")[0])
    p.add_argument("--study", default="quickstart")
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--json", default=None)
    return p.parse_args(argv)


@exit_on_user_error
def main(argv: Optional[list[str]] = None) -> dict:
    args = parse_args(argv)
    check_outputs({"--json": args.json})
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "FWFORMER_SEARCH_TRAINABLE")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    shrink = [f"search.trials={args.trials}", f"train.epochs={args.epochs}", "search.max_concurrent=2"]
    result: dict[str, Any] = dict(benchmark="worker_memory", machine=machine_info("cpu"), study=args.study,
                                  command="python -m benchmarks.worker_memory " + " ".join(sys.argv[1:] if argv is None
                                                                                           else argv))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run, sampler, seconds = sampled([sys.executable, "-m", "search.run", "--study", args.study, *shrink], tmp, env)
        if run.returncode != 0:
            raise SystemExit(f"search.run failed:\n{run.stdout[-3000:]}")
        workers = [p for p in sampler.peaks.values() if is_trial_worker(p["cmd"])]
        result["search"] = dict(seconds=seconds, overrides=shrink, workers=workers,
                                peak_worker_rss_mb=max(w["rss"] for w in workers),
                                peak_worker_pss_mb=max(w["pss"] for w in workers),
                                peak_worker_uss_mb=max(w["uss"] for w in workers),
                                session_pss_peak_mb=sampler.total_pss_peak)
        from search.study import load_study

        study = load_study(args.study, shrink)
        params = {f"mixer_{i}": c[0] for i, c in enumerate(study.space.block_choices)}
        params["T"] = max(study.space.T)
        cfg_path = tmp / "trial.yaml"
        from fwformer.config import save_config

        save_config(study.trial_config({**params, **{k: v[0] for k, v in study.space.dims.items()}}), cfg_path)
        alone, sampler2, seconds2 = sampled([sys.executable, "-m", "fwformer.train", "--config", str(cfg_path),
                                             "--out", str(tmp / "alone"), "--quiet"], tmp, env)
        if alone.returncode != 0:
            raise SystemExit(f"fwformer.train failed:\n{alone.stdout[-3000:]}")
        peak = max(sampler2.peaks.values(), key=lambda p: p["rss"])
        result["alone"] = dict(seconds=seconds2, rss_mb=peak["rss"], pss_mb=peak["pss"], uss_mb=peak["uss"],
                               mixers=[params[f"mixer_{i}"] for i in range(study.space.depth)], T=params["T"])
    result["imports_mb"] = {m: import_cost(m) for m in ("torch", "ray", "ray.tune", "mlflow",
                                                         "ray.tune, torch, fwformer.train, search.trainable")}
    s, a = result["search"], result["alone"]
    print(f"trial workers ({len(s['workers'])}): peak RSS {s['peak_worker_rss_mb']:.0f} MB, PSS "
          f"{s['peak_worker_pss_mb']:.0f} MB, USS {s['peak_worker_uss_mb']:.0f} MB; the whole session's PSS peak "
          f"{s['session_pss_peak_mb']:.0f} MB")
    print(f"the same training alone: RSS {a['rss_mb']:.0f} MB, PSS {a['pss_mb']:.0f} MB, USS {a['uss_mb']:.0f} MB")
    print("imports (peak RSS of a bare interpreter): " + ", ".join(f"{k} {v:.0f} MB"
                                                                 for k, v in result["imports_mb"].items()))
    if args.json:
        write_json(args.json, result)
    print(json.dumps({k: v for k, v in s.items() if k != "workers"}, indent=1))
    return result


if __name__ == "__main__":
    main()
