"""The models a benchmark times: one model per mixer on a geometry, and one mixer alone."""
from __future__ import annotations

from dataclasses import dataclass, field

from fwformer.layers import fresh_state


@dataclass(frozen=True)
class Geometry:
    name: str
    preset: str
    overrides: tuple[str, ...]
    batch: dict[str, int]  # device type -> batch size for the speed and memory figures
    description: str
    repeats: dict[str, int] = field(default_factory=lambda: {"cpu": 15, "cuda": 20})
    energy_steps: dict[str, int] = field(default_factory=lambda: {"cpu": 60, "cuda": 300})
    energy_batch: dict[str, int] = field(default_factory=lambda: {"cpu": 16, "cuda": 128})


GEOMETRIES = {
    g.name: g
    for g in [
        Geometry("small", "spikformer-4-384", ("embed_dim=128", "num_heads=8"), {"cpu": 16, "cuda": 256},
                 "4 blocks, D 128, 8 heads, T 4, 32x32 CIFAR input, 8x8 grid (quick on CPU)"),
        Geometry("spikformer-4-384", "spikformer-4-384", (), {"cpu": 4, "cuda": 128},
                 "Spikformer-4-384 on CIFAR: 4 blocks, D 384, 12 heads, T 4, 32x32 input, 8x8 grid",
                 repeats={"cpu": 9, "cuda": 20}, energy_steps={"cpu": 120, "cuda": 300},
                 energy_batch={"cpu": 8, "cuda": 128}),
        Geometry("spikformer-2-256", "spikformer-2-256", (), {"cpu": 2, "cuda": 16},
                 "Spikformer-2-256 on event frames: 2 blocks, D 256, 16 heads, T 16, 2x128x128 frames, 8x8 grid",
                 repeats={"cpu": 9, "cuda": 20}),
    ]
}


def geometry_config(geometry: Geometry, mixer: str):
    from fwformer.config import load_config

    return load_config(geometry.preset, [*geometry.overrides, f"mixers=[{mixer}]"])


def is_cifar_shaped(cfg) -> bool:
    return (cfg.img_size, cfg.in_channels) == (32, 3)


def make_batch(cfg, batch: int, device: str, seed: int = 0):
    """A fixed input batch of the geometry: normalised-image noise, or sparse event frames."""
    import torch

    g = torch.Generator().manual_seed(seed)
    if cfg.data.name in ("dvs128_gesture", "cifar10_dvs") or cfg.in_channels == 2:
        x = (torch.rand(cfg.T, batch, cfg.in_channels, cfg.img_size, cfg.img_size, generator=g) < 0.05).float()
    else:
        x = torch.randn(batch, cfg.in_channels, cfg.img_size, cfg.img_size, generator=g)
    y = torch.randint(0, cfg.num_classes, (batch,), generator=g)
    return x.to(device), y.to(device)


def autocast(device: str, amp: bool):
    import torch

    from fwformer.train import autocast as engine_autocast

    return engine_autocast(torch.device(device), amp)


class Subject:
    """One model (every block one mixer) with its optimizer and a fixed batch."""

    def __init__(self, geometry: Geometry, mixer: str, batch: int, device: str, amp: bool, seed: int = 0):
        import torch

        from fwformer.model import build_model, count_parameters

        self.mixer = mixer
        self.cfg = geometry_config(geometry, mixer)
        torch.manual_seed(seed)
        self.model = build_model(self.cfg).to(device)
        self.params = count_parameters(self.model)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=self.cfg.train.lr,
                                     weight_decay=self.cfg.train.weight_decay)
        self.x, self.y = make_batch(self.cfg, batch, device, seed)
        self.batch = batch
        self.device = device
        self.amp = amp

    def train_step(self) -> None:
        import torch.nn.functional as F

        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        with fresh_state(self.model), autocast(self.device, self.amp):
            loss = F.cross_entropy(self.model(self.x), self.y)
            loss.backward()
        self.opt.step()

    def infer_step(self) -> None:
        import torch

        self.model.eval()
        with torch.no_grad(), fresh_state(self.model), autocast(self.device, self.amp):
            self.model(self.x)

    def state_bytes(self) -> int:
        """Parameters, buffers and optimizer state: what the model holds between steps."""
        import torch

        total = sum(t.numel() * t.element_size() for t in self.model.parameters())
        total += sum(t.numel() * t.element_size() for t in self.model.buffers())
        for state in self.opt.state.values():
            total += sum(v.numel() * v.element_size() for v in state.values() if torch.is_tensor(v))
        return total


class IsolatedMixer:
    """One block's mixer alone on random spikes `[T, B, N, D]`."""

    def __init__(self, cfg, mixer: str, batch: int, device: str, amp: bool, rate: float = 0.15, seed: int = 0):
        import torch

        from fwformer.model import make_mixer

        torch.manual_seed(seed)
        self.module = make_mixer(cfg, mixer).to(device)
        n = cfg.grid[0] * cfg.grid[1]
        g = torch.Generator().manual_seed(seed)
        self.x = (torch.rand(cfg.T, batch, n, cfg.embed_dim, generator=g) < rate).float().to(device)
        self.grad = torch.randn(cfg.T, batch, n, cfg.embed_dim, generator=g).to(device)
        self.device = device
        self.amp = amp
        self.shape = [cfg.T, batch, n, cfg.embed_dim]

    def train_step(self) -> None:
        x = self.x.detach().requires_grad_(True)
        self.module.train()
        with fresh_state(self.module), autocast(self.device, self.amp):
            out = self.module(x)
            out.backward(self.grad.to(out.dtype))

    def infer_step(self) -> None:
        import torch

        self.module.eval()
        with torch.no_grad(), fresh_state(self.module), autocast(self.device, self.amp):
            self.module(self.x)
