"""Memory of processes as Linux accounts it: RSS, PSS and USS from `/proc/PID/smaps_rollup`, sampled
for every process of a session until it ends, and the import cost of a bare interpreter."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

from benchmarks.common import REPO


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
