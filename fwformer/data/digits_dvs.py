"""`digits_dvs`: an event-camera recording of the digits, simulated offline.

Like N-MNIST (Orchard et al., 2015), the sensor moves and the digit stays: the camera makes three
saccades along a small triangle while it watches each 8x8 (or `data.resize`d) image. At every
sub-step the image is re-sampled at the camera's offset (bilinear), and each pixel compares its
log brightness with the level at its last event: every `threshold` of rise is one ON event,
every `threshold` of fall one OFF event (the DVS pixel model, as in ESIM / v2e). The events of
each of T equal time bins become one frame of 2 channels (ON, OFF counts), plus a little seeded
background activity. T is the model's `T`. The output is `[N, T, 2, S, S]` float counts, so the
event path (frame inputs, 2 channels, T from the data) runs with no download.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from fwformer.config import Config, DataConfig
from fwformer.data.base import DataInfo, InMemoryDataset
from fwformer.data.digits import load_images
from fwformer.data.splits import check_split, split_in_memory


def info(dc: DataConfig) -> DataInfo:
    check_split(dc, has_test=False)
    return DataInfo("digits_dvs", 10, 2, dc.resize or 8, event=True)


def _saccade_path(n: int, steps: int, amplitude: float, generator: torch.Generator) -> torch.Tensor:
    """`[n, steps + 1, 2]` camera offsets (x, y) in pixels: one lap of a triangle, random start point."""
    corners = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.5, 1.0], [0.0, 0.0]]) * amplitude
    corners = corners - corners[:3].mean(0)  # centred, so the digit stays in view on average
    phase = torch.rand(n, 1, generator=generator)
    u = (torch.linspace(0.0, 1.0, steps + 1)[None, :] + phase) % 1.0 * 3  # [n, steps+1] in [0, 3)
    leg = u.floor().long().clamp_(max=2)
    frac = (u - leg).unsqueeze(-1)
    return corners[leg] + frac * (corners[leg + 1] - corners[leg])


def _shift(images: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """Images `[n, 1, H, W]` seen by a camera moved by `offset` `[n, 2]` pixels (zeros outside)."""
    n, _, h, w = images.shape
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = 2 * offset[:, 0] / w
    theta[:, 1, 2] = 2 * offset[:, 1] / h
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def simulate_events(images: torch.Tensor, frames: int, *, substeps: int = 4, threshold: float = 0.25,
                    amplitude: float | None = None, noise_rate: float = 0.01, seed: int = 0) -> torch.Tensor:
    """`[N, 1, H, W]` images in [0, 1] -> `[N, frames, 2, H, W]` ON/OFF event counts."""
    n, _, h, w = images.shape
    g = torch.Generator().manual_seed(seed)
    steps = frames * substeps
    path = _saccade_path(n, steps, amplitude or max(1.0, h / 8), g)  # [n, steps+1, 2]
    log_level = lambda x: torch.log(x + 0.05)  # noqa: E731 — the pixel's log photoreceptor response
    reference = log_level(_shift(images, path[:, 0]))  # the level at each pixel's last event
    counts = torch.zeros(n, frames, 2, h, w)
    for k in range(1, steps + 1):
        delta = log_level(_shift(images, path[:, k])) - reference  # [n, 1, H, W]
        on = torch.floor(delta.clamp(min=0) / threshold)
        off = torch.floor((-delta).clamp(min=0) / threshold)
        reference = reference + (on - off) * threshold
        counts[:, (k - 1) // substeps] += torch.cat([on, off], dim=1)
    if noise_rate > 0:
        counts += (torch.rand(counts.shape, generator=g) < noise_rate).float()
    return counts


def build(cfg: Config, info: DataInfo) -> tuple[InMemoryDataset, InMemoryDataset]:
    images, labels = load_images(cfg.data.resize)
    events = simulate_events(images, cfg.T, seed=cfg.data.seed)  # [N, T, 2, S, S]
    return split_in_memory(cfg.data, InMemoryDataset(events, labels, info))
