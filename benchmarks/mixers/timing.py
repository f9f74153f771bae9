"""Interleaved, paired timing rounds: every subject once per round, in a rotated order."""
from __future__ import annotations

import math
import time
from typing import Any, Callable

from benchmarks.common import median, quartiles


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


def calls_for(fn: Callable[[], None], device: str, min_time: float, cap: int = 200) -> int:
    """How many back-to-back calls make one measurement last at least `min_time` seconds."""
    once, _ = time_per_call(fn, 1, device)
    return max(1, min(cap, math.ceil(min_time / max(once, 1e-6))))


def interleaved(subjects: dict[str, Any], kinds: tuple[str, ...], repeats: int, device: str, min_time: float,
                warmup: int, log: Callable[[str], None]) -> dict[str, dict[str, dict[str, list[float]]]]:
    """Seconds per call of `<kind>_step` for every subject, `repeats` rounds, rotated order.

    Returns times[subject][kind][clock] = one value per round, clock `wall` or `cpu`.
    """
    names = list(subjects)
    calls: dict[tuple[str, str], int] = {}
    for name in names:
        for kind in kinds:
            fn = getattr(subjects[name], f"{kind}_step")
            for _ in range(warmup):
                fn()
            calls[name, kind] = calls_for(fn, device, min_time)
    times = {n: {k: {"wall": [], "cpu": []} for k in kinds} for n in names}
    step = max(1, repeats // 5)
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for kind in kinds:
            for name in order:
                wall, cpu = time_per_call(getattr(subjects[name], f"{kind}_step"), calls[name, kind], device)
                times[name][kind]["wall"].append(wall)
                times[name][kind]["cpu"].append(cpu)
        if (r + 1) % step == 0 or r + 1 == repeats:
            log(f"    round {r + 1}/{repeats} done")
    return times


def paired_ratio(times: dict, name: str, ref: str, kind: str, clock: str) -> tuple:
    """Median and quartiles over rounds of (ref time / name time) = name's speed relative to ref."""
    if ref not in times or name not in times:
        return None, None
    ratios = [a / b for a, b in zip(times[ref][kind][clock], times[name][kind][clock]) if b > 0]
    return median(ratios), quartiles(ratios)
