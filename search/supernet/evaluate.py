"""Scoring a sub-network with the weights it inherits from the trained supernet (SPOS's evaluation).

For each candidate: pin its path, re-estimate the BatchNorm statistics of the path on the same
`calibration_batches` training batches (shuffled with the training seed, no augmentation: the
images at inference), then measure what a trial's final result holds: validation accuracy and
loss on the study's validation split (or its first `val_batches` batches) and energy at the
firing rates measured on the first `train.energy_batches` validation batches, under the study's
energy model. Seconds per candidate, where a trial takes epochs.

Why recalibrate: the shared BatchNorms (patch splitter, MLPs) saw the mixture of every path during
training, and their running statistics fit none of them; SPOS re-estimates them per sub-network.
"""
from __future__ import annotations

from itertools import islice
from typing import Any, Iterable, Optional

from fwformer.supernet import Choice, recalibrate_batchnorm


def choice_of(cfg: Any) -> Choice:
    """The supernet path of a trial config."""
    return Choice(tuple(cfg.block_mixers), int(cfg.T))


class SubnetScorer:
    def __init__(self, supernet: Any, cfg: Any, datasets: tuple, *, device: Any, calibration_batches: int,
                 val_batches: Optional[int] = None, metrics: Iterable[str] = ()):
        from fwformer.data import BatchLoader, make_loader
        from fwformer.train import input_kind_of

        train_ds, val_ds, info = datasets
        self.supernet = supernet.to(device).eval()
        self.cfg = cfg
        self.device = device
        self.input_kind = input_kind_of(info.event)
        calibration = BatchLoader(train_ds, batch_size=cfg.train.batch_size, shuffle=True, drop_last=True,
                                  device=device, seed=cfg.train.seed)
        self.calibration = [x for x, _ in islice(iter(calibration), calibration_batches)]
        val = make_loader(val_ds, cfg, train=False, device=device)
        self.val = list(islice(iter(val), val_batches)) if val_batches else list(val)
        self.energy_batches = [x for x, _ in self.val[:cfg.train.energy_batches]]
        self.with_latency = "latency_ms" in set(metrics)

    def __call__(self, choice: Choice) -> dict[str, Any]:
        """A trial-like result of sub-network `choice` with inherited weights."""
        from fwformer.train import evaluate_model, inference_latency_ms, measure

        net = self.supernet
        with net.use(choice):
            recalibrate_batchnorm(net, self.calibration)
            val = evaluate_model(net, self.val, device=self.device)
            energy = measure(net, self.energy_batches, net.config_of(choice), input_kind=self.input_kind)
            result = {"val_acc": val["acc"], "val_loss": val["loss"], "energy_mj": energy.energy_mj,
                      "energy_model": energy.energy_model, "macs": energy.macs, "acs": energy.acs,
                      "mean_firing_rate": energy.mean_firing_rate, "params": net.path_parameters(choice),
                      "num_val": val["n"]}
            if self.with_latency:
                result["latency_ms"] = inference_latency_ms(net, self.val[0][0], device=self.device, amp=False)
        return result
