"""The check's training step: short real trainings through the trainable's own path, `python -m
fwformer.train` (`python -m benchmarks.gpu_check.training --json FILE --scratch DIR --data NPZ`).

At Spikformer-4-384 with fw_pareto's recipe (its preset's augmentation, bf16, batch 128) on the CIFAR-10
subset (80/20 stratified split), for 2 epochs: `ssa`, then the fastest fixed mixer of the bf16 mixers
benchmark (`--mixers-json`; fft2d when that file has none), each alone: images/s, peak memory, the
loss curve, energy at the firing rates measured on validation images. Then the two at once in two
processes, as `resources.gpu: 0.5` runs two trials on one GPU: each one's images/s against its own
alone, and their sum (`throughput_vs_alone`: 1.0 means sharing buys nothing, 2.0 is perfect). From
those, the epoch time the fw_pareto budget should use. The trainings run spikingjelly's own neuron
choice: under bf16 it refuses any other (`fwformer.layers.backend`).

`--tiny`: a small model on a generated 40-image set, one epoch, on the CPU (the dry run).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from benchmarks.gpu_check.files import REPO, read_json, tail, write_json
from benchmarks.gpu_check.plan import BOXES, box_seconds

BASELINE, FALLBACK_FIXED = "ssa", "fft2d"
#: The full CIFAR-10 training set the fw_pareto study trains on, split as its `data.val_fraction` says.
CIFAR10_IMAGES = 50_000
STUDIES = ("fw_pareto", "fw_pareto_dvs")


def fixed_mixer(mixers_json: Optional[str]) -> tuple[str, str]:
    """(mixer, where it came from): the fixed-basis mixer with the highest training speed-up over SSA
    at 4-384 in the mixers benchmark's file (its goals' per-mixer ratios), else FALLBACK_FIXED."""
    payload = read_json(mixers_json) or {}
    goals = ((payload.get("geometries") or {}).get("spikformer-4-384") or {}).get("goals") or {}
    per_mixer = (goals.get("train_vs_ssa") or {}).get("per_mixer") or {}
    if per_mixer:
        best = max(per_mixer, key=per_mixer.get)
        return best, f"fastest fixed-basis mixer in {Path(mixers_json).name} (x{per_mixer[best]:.2f} training vs ssa)"
    return FALLBACK_FIXED, "FWformer's 2D-FFT: no mixers benchmark figures to choose from"


def config(mixer: str, data: Path, *, tiny: bool, epochs: int) -> tuple[str, list[str]]:
    """(preset, overrides) of one training."""
    common = ["data.name=npz", f"data.path={data}", "data.split=stratified", f"train.epochs={epochs}"]
    if tiny:
        return "cifar-small", [f"mixers=[{mixer}]", *common, "data.val_fraction=0.25", "embed_dim=32", "num_heads=2",
                               "train.batch_size=8", "train.device=cpu", "train.num_threads=1",
                               "train.energy_batches=1"]
    return "spikformer-4-384", [f"mixers=[{mixer}]", *common, "data.val_fraction=0.2", "train.cooldown_epochs=0",
                                "train.warmup_epochs=1", "train.amp=true", "train.device=cuda"]


def tiny_data(folder: Path) -> Path:
    import numpy as np

    rng = np.random.default_rng(0)
    path = folder / "tiny_cifar.npz"
    np.savez(path, images=rng.integers(0, 256, (40, 3, 32, 32), dtype=np.uint8), labels=np.arange(40) % 10)
    return path


@dataclass
class Training:
    """One `fwformer.train` process, its run folder and its log."""

    mixer: str
    run_dir: Path
    command: list[str]
    proc: subprocess.Popen
    log: Path
    started: float

    def finish(self, deadline: float) -> dict[str, Any]:
        """Wait until `deadline` (monotonic), then read what the run measured."""
        try:
            code: Optional[int] = self.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        row: dict[str, Any] = dict(command=" ".join(self.command[1:]), wall_s=round(time.monotonic() - self.started, 1))
        metrics = read_json(self.run_dir / "metrics.json")
        if code != 0 or metrics is None:
            row.update(status="timeout" if code is None else "fail", last_lines=tail(self.log.read_text(errors="replace")))
            return row
        history = metrics["history"]
        row.update(
            status="pass",
            images_per_s=history[-1]["images_per_s"],  # the last epoch: compiled kernels and caches warm
            images_per_s_per_epoch=[h["images_per_s"] for h in history],
            epoch_time_s=[h["epoch_time_s"] for h in history],
            peak_mem_mb=max(h["peak_mem_mb"] for h in history),
            loss_curve=[{k: h[k] for k in ("epoch", "train_loss", "val_loss", "val_acc", "mean_firing_rate")}
                        for h in history],
            energy_mj=metrics["energy_mj"], energy_model=metrics["energy_model"],
            mean_firing_rate=metrics["mean_firing_rate"], params=metrics["params"],
            infer_images_per_s=1e3 * metrics["latency_batch_size"] / metrics["latency_ms"],
            num_train=metrics["num_train"], num_val=metrics["num_val"], device=metrics["device"],
        )
        return row


def start(mixer: str, data: Path, run_dir: Path, *, tiny: bool, epochs: int) -> Training:
    preset, overrides = config(mixer, data, tiny=tiny, epochs=epochs)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    log = run_dir.parent / f"{run_dir.name}.log"
    command = [sys.executable, "-m", "fwformer.train", "--config", preset, "--out", str(run_dir), "--quiet", *overrides]
    with open(log, "w") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    return Training(mixer, run_dir, command, proc, log, time.monotonic())


def sharing(alone: dict, together: dict) -> dict[str, Any]:
    per_mixer = {m: together[m]["images_per_s"] / alone[m]["images_per_s"] for m in together
                 if together[m].get("status") == "pass" and alone.get(m, {}).get("status") == "pass"}
    if len(per_mixer) < 2:
        return dict(note="needs both trainings alone and together")
    return dict(shared_vs_alone=per_mixer, throughput_vs_alone=sum(per_mixer.values()),
                meaning="each process's images/s while two share the GPU, over its own alone; their sum is "
                        "what two trials on one GPU (resources.gpu: 0.5) train against one alone")


def study_budget(alone: dict, together: dict, measured_T: int) -> dict[str, Any]:
    """The per-epoch time of fw_pareto's trials on full CIFAR-10, from the measured speeds.

    One epoch = its training images at the training speed + its validation images at the inference
    speed; shared: both at the fraction of their alone speed that two at once left each. Linear in T
    (fw_pareto's own assumption): the space's mean T scales the figures at the measured T."""
    import yaml

    study = yaml.safe_load((REPO / "studies" / "fw_pareto.yaml").read_text())
    val_fraction = study["data"]["val_fraction"]
    train_images, val_images = CIFAR10_IMAGES * (1 - val_fraction), CIFAR10_IMAGES * val_fraction
    mean_T = statistics.mean(study["space"]["T"])
    out: dict[str, Any] = dict(study="fw_pareto", train_images=train_images, val_images=val_images,
                               measured_T=measured_T, space_mean_T=mean_T, gpu_per_trial=study["resources"]["gpu"],
                               epochs=study["train"]["epochs"], trials=study["search"]["trials"], per_mixer={})
    for m, row in alone.items():
        if row.get("status") != "pass":
            continue
        epoch = train_images / row["images_per_s"] + val_images / row["infer_images_per_s"]
        figures = dict(epoch_s_alone=epoch)
        share = (together.get(m) or {}).get("images_per_s")
        if share:
            slow = row["images_per_s"] / share
            figures["epoch_s_shared"] = epoch * slow
        out["per_mixer"][m] = figures
    rows = list(out["per_mixer"].values())
    if rows:
        scale = mean_T / measured_T
        alone_s = statistics.mean(r["epoch_s_alone"] for r in rows) * scale
        out["epoch_s_alone_mean_T"] = alone_s
        shared = [r["epoch_s_shared"] for r in rows if "epoch_s_shared" in r]
        if shared:
            out["epoch_s_shared_mean_T"] = statistics.mean(shared) * scale
            # GPU time: each trial holds its share of a GPU for its whole (slower) training.
            out["gpu_minutes_all_trials"] = (out["trials"] * out["epochs"] * out["epoch_s_shared_mean_T"]
                                             * out["gpu_per_trial"] / 60)
        out["gpu_minutes_all_trials_alone"] = out["trials"] * out["epochs"] * alone_s / 60
        out["method"] = ("mean over the measured mixers, scaled from the measured T to the space's mean T; the studies' "
                         "early stopping and the mixers' spread are not in it")
    out["fw_pareto_dvs"] = "not measured here: event data at Spikformer-2-256 (DVS sets are not on the device)"
    return out


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check.training", description=__doc__.split("\n")[0])
    p.add_argument("--json", required=True, help="where the step's record goes")
    p.add_argument("--scratch", required=True, help="folder for the run folders (checkpoints) and their logs")
    p.add_argument("--data", default=None, help="the CIFAR-10 subset (.npz); --tiny generates one")
    p.add_argument("--mixers-json", default=None, help="the bf16 mixers benchmark file that names the fastest fixed mixer")
    p.add_argument("--epochs", type=int, default=None, help="default 2 (--tiny 1)")
    p.add_argument("--tiny", action="store_true", help="a small model on generated data, on the CPU")
    args = p.parse_args(argv)
    scratch = Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    if args.data is None and not args.tiny:
        p.error("--data is required unless --tiny")
    data = tiny_data(scratch) if args.tiny else Path(args.data)
    epochs = args.epochs or (1 if args.tiny else 2)
    deadline = time.monotonic() + box_seconds(BOXES["training"]) - 3
    mixer, source = fixed_mixer(args.mixers_json)
    preset, overrides = config(BASELINE, data, tiny=args.tiny, epochs=epochs)
    record: dict[str, Any] = dict(step="training", data=str(data), preset=preset, epochs=epochs,
                                  overrides=[o for o in overrides if not o.startswith("mixers=")],
                                  fixed_mixer=mixer, fixed_mixer_source=source, neuron_backend="auto",
                                  alone={}, together={})
    mixers = (BASELINE, mixer) if mixer != BASELINE else (BASELINE,)

    # Alone, one after the other: each may use a third of what is left, so the pair keeps its share.
    for m in mixers:
        run = start(m, data, scratch / f"alone_{m}", tiny=args.tiny, epochs=epochs)
        share = (deadline - run.started) / (3 if m == mixers[0] else 2)
        record["alone"][m] = run.finish(run.started + share)
        write_json(args.json, record)

    # Together: both processes at once on the same device.
    started = time.monotonic()
    runs = [start(m, data, scratch / f"together_{m}", tiny=args.tiny, epochs=epochs) for m in mixers]
    for run in runs:
        record["together"][run.mixer] = run.finish(deadline)
    record["together_wall_s"] = round(time.monotonic() - started, 1)
    record["sharing"] = sharing(record["alone"], record["together"])
    measured_T = 2 if args.tiny else 4  # the presets' T: cifar-small 2, spikformer-4-384 4
    record["budget"] = study_budget(record["alone"], record["together"], measured_T)
    rows = [*record["alone"].values(), *record["together"].values()]
    record["status"] = "pass" if all(r["status"] == "pass" for r in rows) else "fail"
    write_json(args.json, record)
    return 0 if record["status"] == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())
