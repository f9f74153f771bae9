"""The spiking transformer: SPS -> blocks (mixer + MLP, residual) -> head.

With every block's mixer `ssa` this is Spikformer (Zhou et al., ICLR 2023) exactly; FWformer
(Wang et al., 2024) swaps the mixer for fixed Fourier or wavelet bases. Blocks receive their mixer
built by name from the registry and never branch on it.
"""
from __future__ import annotations

import torch
from torch import nn

from fwformer.cli import ConfigError
from fwformer.config import Config, validate
from fwformer.layers import LinearBN, SpikingPatchSplitting, make_lif
from fwformer.mixers import AttentionOptions, Mixer, create_mixer


class SpikingMLP(nn.Module):
    """The channel MLP on `[T, B, N, D]`, in the block convention's order.

    spike (Spikformer):             Linear -> BN -> LIF -> Linear -> BN -> LIF   (spikes out)
    membrane (Spike-driven, SWformer): LIF -> Linear -> BN -> LIF -> Linear -> BN (real values out)
    The reference's 1x1 convolutions with bias are Linear layers with bias here (the same map).
    """

    def __init__(self, dim: int, hidden: int, *, shortcut: str = "spike", tau: float = 2.0,
                 surrogate_alpha: float = 4.0):
        super().__init__()
        self.membrane = shortcut == "membrane"
        self.fc1 = LinearBN(dim, hidden)
        self.lif1 = make_lif(tau=tau, alpha=surrogate_alpha)
        self.fc2 = LinearBN(hidden, dim)
        self.lif2 = make_lif(tau=tau, alpha=surrogate_alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.membrane:
            return self.fc2(self.lif2(self.fc1(self.lif1(x))))
        return self.lif2(self.fc2(self.lif1(self.fc1(x))))


class ResidualBlock(nn.Module):
    """A transformer block: `x + mix(x)`, then `x + mlp(x)`, around whichever mixer is active.

    The convention decides where the mixer's neuron sits, never the mixer (`Mixer.features` serves
    both): `spike`, the mixer's own output LIF makes spikes that are added to the stream
    (Spikformer, QKFormer); `membrane`, a LIF on the stream feeds the mixer, whose features (ending
    in BN) are added as real values (Spike-driven Transformer's `MS_Block_Conv`, SWformer's `Block`).
    """

    def __init__(self, mlp: nn.Module, *, shortcut: str = "spike", tau: float = 2.0, surrogate_alpha: float = 4.0):
        super().__init__()
        self.mlp = mlp
        # The membrane convention's input neuron (SDSA's `shortcut_lif`, FATM's `x_neuron`).
        self.mixer_lif = make_lif(tau=tau, alpha=surrogate_alpha) if shortcut == "membrane" else None

    def active_mixer(self) -> Mixer:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixer = self.active_mixer()
        if self.mixer_lif is None:
            x = x + mixer(x)
        else:
            mixer.check_input(x)
            x = x + mixer.features(self.mixer_lif(x))
        return x + self.mlp(x)


class Block(ResidualBlock):
    def __init__(self, mixer: Mixer, mlp: nn.Module, **convention):
        super().__init__(mlp, **convention)
        self.mixer = mixer

    def active_mixer(self) -> Mixer:
        return self.mixer


class SpikingTransformer(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        validate(cfg)
        self.cfg = cfg
        self.sps = make_sps(cfg)
        self.blocks = nn.ModuleList(make_block(cfg, make_mixer(cfg, name)) for name in cfg.block_mixers)
        self.head_lif = make_lif(**lif_options(cfg)) if cfg.head_lif else None
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
        # Neuron state persists across calls (spikingjelly's contract): whoever runs a batch resets
        # it before and after (`fwformer.layers.reset_state`).
        return classify(self, self.forward_features(x))


def classify(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The head on block outputs `[T, B, N, D]`: mean over tokens, the optional head LIF (Spike-driven
    Transformer), mean over time, Linear -> `[B, classes]` (the mean over T commutes with the Linear)."""
    x = x.mean(dim=2)  # [T, B, D]
    if model.head_lif is not None:
        x = model.head_lif(x)
    return model.head(x.mean(dim=0))


def init_reference_weights(module: nn.Module) -> None:
    """Spikformer's `_init_weights` (ZK-Zhou/spikformer, cifar10/model.py), applied to every module:
    each Linear gets truncated-normal weights with std 0.02 (cut at +-2 absolute, as timm's
    `trunc_normal_`) and zero bias; LayerNorms weight 1, bias 0; convolutions, BatchNorms and the
    mixers' own parameters keep PyTorch's or their own initialisation."""
    if isinstance(module, nn.Linear):
        _trunc_normal(module)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def _trunc_normal(module: nn.Module) -> None:
    nn.init.trunc_normal_(module.weight, std=0.02, a=-2.0, b=2.0)
    if module.bias is not None:
        nn.init.zeros_(module.bias)


def initialise(model: nn.Module, scheme: str) -> None:
    """The config's `init` (`fwformer.config.INIT_SCHEMES`):

    - `spikformer`: `init_reference_weights` on every module;
    - `pytorch`: the initialisation every layer got from PyTorch when it was built;
    - `spike-driven`: Spike-driven Transformer's `_init_weights` (BICLab/Spike-Driven-Transformer,
      model/spikeformer.py): every Conv2d truncated normal std 0.02 with zero bias, BatchNorms 1 and 0
      (PyTorch's already); its classifier Linear is not touched. Our Linear layers stand for its 1x1
      convolutions, so every Linear but the classifier (`model.head`) is initialised as a conv;
    - `swformer`: SWformer's (bic-L/Spiking-Wavelet-Transformer, cifar10-100/model.py): only nn.Linear,
      which there is the classifier alone; its 1x1 convolutions keep PyTorch's, as our Linear layers do.
    """
    head = getattr(model, "head", None)
    if scheme == "spikformer":
        model.apply(init_reference_weights)
    elif scheme == "spike-driven":
        for module in model.modules():
            if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)) and module is not head:
                _trunc_normal(module)
    elif scheme == "swformer" and isinstance(head, nn.Linear):
        _trunc_normal(head)


def attention_options(cfg: Config) -> AttentionOptions:
    """The config's `ssa` section as the options every attending mixer (ssa, hybrids, wavspa) is built with."""
    return AttentionOptions(scale=float(cfg.ssa.scale), qkv_bias=bool(cfg.ssa.qkv_bias))


# ---- the parts, built from a config (the stand-alone model and fwformer.supernet share them) ----------
def neuron_options(cfg: Config) -> dict:
    return dict(tau=cfg.tau, surrogate_alpha=cfg.surrogate_alpha)


def lif_options(cfg: Config) -> dict:
    """`make_lif`'s keywords for the config's neuron constants."""
    return dict(tau=cfg.tau, alpha=cfg.surrogate_alpha)


def make_sps(cfg: Config) -> SpikingPatchSplitting:
    return SpikingPatchSplitting(cfg.in_channels, cfg.embed_dim, cfg.sps_stages, cfg.sps_pools,
                                 membrane=cfg.shortcut == "membrane", **neuron_options(cfg))


def make_block(cfg: Config, mixer: nn.Module) -> Block:
    return Block(mixer, make_mlp(cfg), shortcut=cfg.shortcut, **neuron_options(cfg))


def make_mixer(cfg: Config, name: str) -> Mixer:
    """Mixer `name` at the config's width, token grid, heads, attention options and neurons."""
    return create_mixer(name, dim=cfg.embed_dim, grid=cfg.grid, num_heads=cfg.num_heads,
                        attention=attention_options(cfg), **neuron_options(cfg))


def make_mlp(cfg: Config) -> SpikingMLP:
    return SpikingMLP(cfg.embed_dim, int(cfg.embed_dim * cfg.mlp_ratio), shortcut=cfg.shortcut, **neuron_options(cfg))


def build_model(cfg: Config) -> SpikingTransformer:
    if cfg.img_size is None or cfg.in_channels is None or cfg.num_classes is None:
        raise ConfigError("img_size, in_channels and num_classes must be set (or taken from the dataset) to build a model")
    return SpikingTransformer(cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
