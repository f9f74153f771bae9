"""Supernets trained once per variant and folder, charged every CPU-second their training took,
and the scorer of a trained one: what the one-shot benchmarks (`benchmarks.supernet`,
`benchmarks.search_scale`) share."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Optional

from benchmarks.common import write_json


def train_supernets(study: Any, variants: list[tuple], workdir: Path, log: Callable[[str], None]) -> dict:
    """{variant: (checkpoint dir, CPU-s)} for each variant (sampling, epochs[, candidate_lr[, distill[,
    batchnorm]]]); a finished one in `workdir` is not trained again."""
    import dataclasses

    from search.supernet import train_supernet, training_config

    out = {}
    for variant in variants:
        sampling, epochs, lr, distill, norm = (*variant, *(1.0, "none", "shared")[len(variant) - 2:])
        n = dataclasses.replace(study.search.supernet, sampling=sampling, epochs=epochs, candidate_lr=lr,
                                distill=distill, batchnorm=norm)
        cfg = training_config(dataclasses.replace(study, search=dataclasses.replace(study.search, supernet=n)))
        folder = workdir / (f"supernet-{sampling}-e{epochs}" + (f"-lr{lr:g}" if lr != 1.0 else "")
                            + (f"-{distill}" if distill != "none" else "") + (f"-bn{norm}" if norm != "shared" else ""))
        report = lambda m, name=folder.name: log(f"    {name}: epoch {m['epoch']} loss {m['train_loss']:.3f}") and False  # noqa: E731
        out[variant] = (folder, trained_once(folder, lambda on_epoch: train_supernet(
            cfg, folder, report=lambda m: on_epoch(m) or report(m), num_threads=1)))
        log(f"  supernet {folder.name}: {out[variant][1]:.0f} CPU-s")
    return out


def trained_once(folder: Path, train: Callable[[Callable[[dict], None]], Any]) -> float:
    """The CPU-seconds the training in `folder` took, over every run that trained it: `train(on_epoch)`
    runs (and continues a checkpoint there) unless the folder holds a finished training and its cost.

    `train` calls `on_epoch(metrics)` after each epoch's checkpoint; the cost so far is written then
    (`cpu_s.json`: CPU-seconds and epochs), so a training stopped and continued later, in another
    process or session, is charged both parts. An epoch checkpointed but not yet costed when the
    process died is charged the mean epoch of those costed; the epoch under way when it died is
    trained again and not charged (what a search that resumed it would not pay twice either)."""
    from search.supernet import trained_epochs

    cost_file = folder / "cpu_s.json"
    done, planned = trained_epochs(folder)
    ledger = json.loads(cost_file.read_text()) if cost_file.is_file() else None
    if ledger is not None and "epochs" not in ledger:  # written only at the end, before the ledger had epochs
        ledger["epochs"] = done
    if planned and done >= planned and ledger is not None and ledger["epochs"] >= done:
        return ledger["cpu_s"]
    before, costed = (ledger["cpu_s"], ledger["epochs"]) if ledger and 0 < ledger["epochs"] <= done else (0.0, 0)
    before += (done - costed) * (before / costed) if costed else 0.0
    start = time.process_time()

    def on_epoch(metrics: dict) -> None:
        write_json(cost_file, {"cpu_s": before + time.process_time() - start, "epochs": int(metrics["epoch"])})

    train(on_epoch)
    cpu = before + time.process_time() - start
    write_json(cost_file, {"cpu_s": cpu, "epochs": trained_epochs(folder)[0]})
    return cpu


def scorer_of(study: Any, folder: Path, settings: Any, datasets: Optional[tuple] = None) -> Any:
    """The `SubnetScorer` of the supernet in `folder` (`datasets`: its data, when already built)."""
    import torch

    from fwformer.data import build_datasets
    from search.supernet import SubnetScorer
    from search.supernet import load_supernet

    supernet, cfg, _ = load_supernet(folder)
    return SubnetScorer(supernet, cfg, datasets or build_datasets(cfg), device=torch.device("cpu"),
                        calibration_batches=settings.calibration_batches, val_batches=settings.val_batches,
                        metrics=study.metric_names)

