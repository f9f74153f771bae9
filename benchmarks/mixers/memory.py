"""Peak training memory of one step: CUDA's allocator, or the resident set of a fresh child process."""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from typing import Any

from benchmarks.common import REPO
from benchmarks.mixers.subjects import GEOMETRIES, Geometry, Subject


def _rss_kb() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                out[key] = int(value.split()[0])
    return out


def memory_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs in a fresh process: the CPU peak-RSS increase of one training step (see module doc)."""
    import torch

    torch.set_num_threads(int(spec["threads"]))
    subject = Subject(GEOMETRIES[spec["geometry"]], spec["mixer"], int(spec["batch"]), "cpu", amp=False)
    subject.train_step()  # warm-up: allocates AdamW state and one-time caches
    subject.opt.zero_grad(set_to_none=True)
    gc.collect()
    before = _rss_kb()["VmRSS"]
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident set (Linux >= 4.0)
    subject.train_step()
    peak = _rss_kb()["VmHWM"]
    return dict(step_mb=(peak - before) / 1024, state_mb=subject.state_bytes() / 2**20,
                rss_before_mb=before / 1024, rss_peak_mb=peak / 1024)


def cpu_memory(geometry: Geometry, mixer: str, batch: int, threads: int) -> dict[str, Any]:
    spec = dict(geometry=geometry.name, mixer=mixer, batch=batch, threads=threads)
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.mixers", "--memory-child", json.dumps(spec)],
                          cwd=REPO, env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return dict(error=f"memory child failed (exit {proc.returncode}): {tail}")
    out = json.loads(lines[-1])
    out["memory_mb"] = out["step_mb"] + out["state_mb"]
    out["method"] = "cpu: VmHWM - VmRSS around one training step in a fresh child (+ model/optimizer state)"
    return out


def cuda_memory(subject: Subject) -> dict[str, Any]:
    import torch

    subject.opt.zero_grad(set_to_none=True)
    gc.collect()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    subject.train_step()
    torch.cuda.synchronize()
    step = torch.cuda.max_memory_allocated() - before
    state = subject.state_bytes()
    return dict(step_mb=step / 2**20, state_mb=state / 2**20, memory_mb=(step + state) / 2**20,
                method="cuda: max_memory_allocated - memory_allocated around one training step (+ model/optimizer state)")
