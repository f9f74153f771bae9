"""The spiking transformer: SPS -> blocks (mixer + MLP, residual) -> head.

With every block's mixer `ssa` this is Spikformer (Zhou et al., ICLR 2023) exactly; FWformer
(Wang et al., 2024) swaps the mixer for fixed Fourier or wavelet bases. Blocks receive their mixer
built by name from the registry and never branch on it.
"""
from __future__ import annotations

import torch
from torch import nn

from fwformer.config import Config, validate
from fwformer.errors import ConfigError
from fwformer.layers import LinearBN
from fwformer.mixers import AttentionOptions, Mixer, create_mixer
from fwformer.neurons import make_lif
from fwformer.sps import SpikingPatchSplitting


class SpikingMLP(nn.Module):
    """Linear -> BN -> LIF -> Linear -> BN -> LIF on `[T, B, N, D]`."""

    def __init__(self, dim: int, hidden: int, *, tau: float = 2.0, surrogate_alpha: float = 4.0):
        super().__init__()
        self.fc1 = LinearBN(dim, hidden)
        self.lif1 = make_lif(tau=tau, alpha=surrogate_alpha)
        self.fc2 = LinearBN(hidden, dim)
        self.lif2 = make_lif(tau=tau, alpha=surrogate_alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif2(self.fc2(self.lif1(self.fc1(x))))


class Block(nn.Module):
    def __init__(self, mixer: Mixer, mlp: nn.Module):
        super().__init__()
        self.mixer = mixer
        self.mlp = mlp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mixer(x)
        return x + self.mlp(x)


class SpikingTransformer(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        validate(cfg)
        self.cfg = cfg
        self.sps = make_sps(cfg)
        self.blocks = nn.ModuleList(Block(make_mixer(cfg, name), make_mlp(cfg)) for name in cfg.block_mixers)
        self.head = nn.Linear(cfg.embed_dim, cfg.num_classes)
        initialise(self, cfg.init)

    @property
    def T(self) -> int:
        return self.cfg.T

    def to_time_major(self, x: torch.Tensor) -> torch.Tensor:
        """Images `[B, C, H, W]` are repeated over T (direct encoding); frames `[T, B, C, H, W]` pass."""
        c, size = self.cfg.in_channels, self.cfg.img_size
        if x.dim() == 4:
            x = x.unsqueeze(0).expand(self.T, *x.shape)
        if x.dim() != 5 or x.shape[0] != self.T or x.shape[2] != c or x.shape[3:] != (size, size):
            raise ValueError(
                f"input must be [B, {c}, {size}, {size}] or [T={self.T}, B, {c}, {size}, {size}], "
                f"but got {list(x.shape)}"
            )
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.sps(self.to_time_major(x))  # [T, B, N, D]
        for block in self.blocks:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Neuron state persists across calls (spikingjelly's contract): the loop that runs a batch
        # resets it afterwards (`fwformer.engine.reset_state`).
        x = self.forward_features(x)
        return self.head(x.mean(dim=2).mean(dim=0))  # tokens, then time -> [B, classes]


def init_reference_weights(module: nn.Module) -> None:
    """Spikformer's `_init_weights` (ZK-Zhou/spikformer, cifar10/model.py), applied to every module:
    each Linear gets truncated-normal weights with std 0.02 (cut at +-2 absolute, as timm's
    `trunc_normal_`) and zero bias; LayerNorms weight 1, bias 0; convolutions, BatchNorms and the
    mixers' own parameters keep PyTorch's or their own initialisation."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02, a=-2.0, b=2.0)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def initialise(model: nn.Module, scheme: str) -> None:
    """The config's `init`: `spikformer` applies `init_reference_weights`; `pytorch` keeps the
    initialisation every layer got from PyTorch when it was built."""
    if scheme == "spikformer":
        model.apply(init_reference_weights)


def attention_options(cfg: Config) -> AttentionOptions:
    """The config's `ssa` section as the options every attending mixer (ssa, hybrids, wavspa) is built with."""
    return AttentionOptions(scale=float(cfg.ssa.scale), qkv_bias=bool(cfg.ssa.qkv_bias))


# ---- the parts, built from a config (the stand-alone model and fwformer.supernet share them) ----------
def neuron_options(cfg: Config) -> dict:
    return dict(tau=cfg.tau, surrogate_alpha=cfg.surrogate_alpha)


def make_sps(cfg: Config) -> SpikingPatchSplitting:
    return SpikingPatchSplitting(cfg.in_channels, cfg.embed_dim, cfg.sps_stages, cfg.sps_pools, **neuron_options(cfg))


def make_mixer(cfg: Config, name: str) -> Mixer:
    """Mixer `name` at the config's width, token grid, heads, attention options and neurons."""
    return create_mixer(name, dim=cfg.embed_dim, grid=cfg.grid, num_heads=cfg.num_heads,
                        attention=attention_options(cfg), **neuron_options(cfg))


def make_mlp(cfg: Config) -> SpikingMLP:
    return SpikingMLP(cfg.embed_dim, int(cfg.embed_dim * cfg.mlp_ratio), **neuron_options(cfg))


def build_model(cfg: Config) -> SpikingTransformer:
    if cfg.img_size is None or cfg.in_channels is None or cfg.num_classes is None:
        raise ConfigError("img_size, in_channels and num_classes must be set (or taken from the dataset) to build a model")
    return SpikingTransformer(cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
