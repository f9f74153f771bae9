"""SNASNet's training-free score (Kim et al., "Neural Architecture Search for Spiking Neural Networks",
ECCV 2022; code Intelligent-Computing-Lab-Yale/Neural-Architecture-Search-for-Spiking-Neural-Networks,
`model_snn.py`, `find_best_neuroncell`), measured as a pre-filter for our space.

As that code computes it: an untrained network sees a batch; every LIF layer's output, at every
timestep, gives each sample a binary code; the kernel adds, per layer and timestep,
N - 0.5 / (r_i (1 - r_j) + r_j (1 - r_i) + 1e-3) * Hamming(c_i, c_j), with N the layer's neuron count and
r a sample's firing rate there (the "sparsity-aware" Hamming distance); the score is log det of the
kernel over the number of layer-timesteps, averaged over 2 batches of 256.

Interpretation for our models: they run multi-step ([T, B, ...] per neuron call), so each call is
split into its T timesteps, which is what the reference's single-step hooks see; every spikingjelly
neuron counts, FATM's ternary ones included (a spike is an output > 0, as there); the network is our
model at the initialisation its trial trains from, not the reference's own initialisation.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

BATCH, REPEAT = 256, 2  # find_best_neuroncell's search_batchsize and repeat


def sparsity_aware_kernel(codes: torch.Tensor) -> torch.Tensor:
    """[B, N] spike codes -> the [B, B] kernel one layer-timestep adds."""
    x = (codes > 0).to(torch.float64)
    n = x.shape[1]
    rate = x.mean(1, keepdim=True)
    norm = rate @ (1 - rate).T + (1 - rate) @ rate.T
    hamming = x @ (1 - x).T + (1 - x) @ x.T
    return n - 0.5 / (norm + 1e-3) * hamming


def score(model: torch.nn.Module, batches: Sequence[torch.Tensor]) -> float:
    """The mean over `batches` of log det(kernel / layer-timesteps) of `model`, untrained, in eval mode."""
    import numpy as np

    from fwformer.layers import fresh_state, is_neuron

    state: dict[str, Any] = {}

    def hook(module: torch.nn.Module, inputs: Any, out: torch.Tensor) -> None:
        steps = out if out.dim() > 2 and out.shape[1] == state["batch"] else out.unsqueeze(0)
        for step in steps:  # one code per timestep, as a single-step hook sees it
            state["kernel"] += sparsity_aware_kernel(step.reshape(state["batch"], -1))
            state["calls"] += 1

    handles = [m.register_forward_hook(hook) for m in model.modules() if is_neuron(m)]
    scores = []
    try:
        model.eval()
        for images in batches:
            state.update(batch=images.shape[0], kernel=torch.zeros(images.shape[0], images.shape[0],
                                                                   dtype=torch.float64), calls=0)
            with torch.no_grad(), fresh_state(model):
                model(images)
            scores.append(float(np.linalg.slogdet((state["kernel"] / state["calls"]).numpy())[1]))
    finally:
        for h in handles:
            h.remove()
    return float(np.mean(scores))


def training_batches(cfg: Any, datasets: tuple) -> list[torch.Tensor]:
    """REPEAT shuffled, augmented training batches of BATCH images, the same for every architecture."""
    from fwformer.data import make_loader

    loader = iter(make_loader(datasets[0], cfg, train=True, device=torch.device("cpu"), batch_size=BATCH))
    return [next(loader)[0] for _ in range(REPEAT)]


def score_architectures(study: Any, params: Sequence[dict]) -> list[float]:
    """The score of each architecture (a trial's params) at its trial's initialisation."""
    from fwformer.data import build_datasets, with_data_geometry
    from fwformer.model import build_model
    from fwformer.train import seed_everything

    first = with_data_geometry(study.trial_config(params[0]))
    batches = training_batches(first, build_datasets(first))
    out = []
    for p in params:
        cfg = with_data_geometry(study.trial_config(p))
        seed_everything(cfg.train.seed)  # the weights the trial starts from
        out.append(score(build_model(cfg), batches))
    return out
