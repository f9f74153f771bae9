"""Structured configs: one dataclass tree, loaded from a preset or YAML file plus dotlist overrides.

Architecture fields sit at the top level (so `mixers=[fft2d,ssa] T=2` works as an override);
`data`, `train` and `energy` are sections. OmegaConf rejects unknown keys and wrong types with the
key path; `validate` checks meaning in one place after the merge.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Union

from fwformer.cli import ConfigError, closest

if TYPE_CHECKING:
    import torch

PRESET_DIR = Path(__file__).parent / "presets"


@dataclass
class DataConfig:
    """The dataset (see `fwformer.data`) and how its training batches are augmented."""

    name: str = "cifar10"  # cifar10 | cifar100 | npz | digits | digits_dvs | dvs128_gesture | cifar10_dvs | nmnist
    root: Optional[str] = None  # default: $FWFORMER_DATA, else the user's cache dir (~/.cache/fwformer/datasets)
    path: Optional[str] = None  # the arrays file of the `npz` dataset
    # `stratified`: seeded split of the training samples, val_fraction of them for validation (searches);
    # `test`: train on the whole official training part, validate on the official test part (cifar10,
    # cifar100, dvs128_gesture; the papers' protocol); `all`: every sample is validation. See fwformer/data/splits.py.
    split: str = "stratified"
    val_fraction: float = 0.2
    seed: int = 0
    download: bool = True  # fetch missing archives (CIFAR; the event sets through tonic)
    resize: Optional[int] = None  # event frames / images resized to this square size
    # Event sets (dvs128_gesture, cifar10_dvs, nmnist): each recording becomes T frames holding equal
    # numbers of events (`count`: Spikformer's and FWformer's choice) or equal durations (`time`).
    frames_by: str = "count"
    frames_cache: Optional[str] = None  # where integrated frames are cached; null: <root>/<tonic class>/frames
    num_workers: int = 4  # processes that integrate event frames once and read them from the cache
    # Augmentation of training batches (tensors, on the training device).
    crop_padding: int = 0
    hflip: bool = False
    randaugment: bool = False
    # `spikformer`: the reference's timm RandAugment `rand-m9-n1-mstd0.4-inc1` over the five operations its
    # aa_snn.py keeps, drawn per image; `kornia-default`: kornia's full default policy, ops drawn per batch.
    randaugment_policy: str = "spikformer"
    randaugment_n: int = 1  # operations per image
    randaugment_m: int = 9  # magnitude: timm's 0-10 scale (spikformer), kornia's 0-30 scale (kornia-default)
    randaugment_mstd: Optional[float] = None  # spikformer: std of the per-image magnitude noise (null: 0.4)
    # Probability that a training image gets a random box set to 0 after normalisation and mixup
    # (timm's RandomErasing, mode 'const'; recipe: 0.25).
    random_erasing: float = 0.0
    normalize: bool = True


@dataclass
class TrainConfig:
    """The training loop of `fwformer.train` (AdamW, warm-up + cosine per step, label smoothing)."""

    epochs: int = 10
    batch_size: int = 64
    lr: float = 5e-4
    min_lr: float = 1e-5
    weight_decay: float = 0.06  # on weights of linear/conv layers; none on biases and norms
    warmup_epochs: float = 1.0
    # The schedule (`fwformer.train.lr_at`): linear warm-up, cosine to min_lr, then cooldown_epochs at
    # min_lr; the run trains epochs + cooldown_epochs epochs (timm's convention).
    warmup_lr: Optional[float] = None  # lr of the first warm-up step (timm's warmup_lr); null: lr / warm-up steps
    warmup_prefix: bool = True  # True: the cosine starts after the warm-up; False: timed from step 0 (timm's default)
    lr_per_epoch: bool = False  # change the lr once per epoch (timm's schedulers) instead of every step
    cooldown_epochs: int = 0
    label_smoothing: float = 0.1
    mixup: float = 0.0  # Beta(alpha, alpha) mixing; 0 switches it off
    cutmix: float = 0.0
    mixup_off_epoch: Optional[int] = None  # mixup/cutmix in the first this-many epochs only (timm's); null: all
    grad_clip: float = 1.0  # max gradient norm; 0 switches clipping off
    amp: bool = True  # bf16 autocast on CUDA only (pytorch-wavelets fails under fp16)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    seed: int = 0
    deterministic: bool = True  # torch deterministic algorithms on CPU (same seed, same numbers)
    max_steps_per_epoch: Optional[int] = None  # cap for quick runs and search fidelities
    energy_batches: int = 2  # validation batches the energy meter measures firing rates on
    num_threads: Optional[int] = None  # torch CPU threads; None leaves torch's default


@dataclass
class EnergyConfig:
    """How energy is priced (`fwformer.energy`; `docs/guides/energy.md`)."""

    # sop: the field's synaptic-operation convention (Spikformer, FWformer); simple: spikingjelly's
    # estimate_simple_energy, arithmetic plus memory traffic; lemaire: Lemaire et al. 2022 via spikingjelly.
    model: str = "sop"
    e_mac_pj: float = 4.6  # 45 nm, 32-bit float multiply-accumulate (sop, simple)
    e_ac_pj: float = 0.9  # 45 nm, 32-bit float add (sop, simple)
    e_memory_pj_per_byte: float = 24.96  # memory access, spikingjelly's default after STEP (simple)


@dataclass
class SSAConfig:
    """Spikformer's spiking self-attention, for every mixer that uses it (`ssa`, hybrids, `wavspa-`, ...).

    Defaults: the CIFAR reference (ZK-Zhou/spikformer `cifar10/model.py`); its event model
    (`cifar10dvs/model.py`) uses scale 0.25 and q, k, v without bias (the event presets set those).
    """

    scale: float = 0.125  # (q k^T) v * scale
    qkv_bias: bool = True  # q, k, v Linear layers with a bias


#: Values of `init` (fwformer.model.initialise).
INIT_SCHEMES = ("spikformer", "pytorch", "spike-driven", "swformer")
#: Values of `shortcut` (fwformer.model.BLOCKS): what the residual stream carries.
SHORTCUTS = ("spike", "membrane")


@dataclass
class Config:
    name: str = "custom"
    # None: taken from the dataset; a value that disagrees with the dataset is an error.
    img_size: Optional[int] = None
    in_channels: Optional[int] = None
    num_classes: Optional[int] = None
    T: int = 4
    embed_dim: int = 384
    depth: int = 4
    num_heads: int = 12
    mlp_ratio: float = 4.0
    sps_stages: int = 4  # conv-BN-LIF stages of the patch splitter
    sps_pools: int = 2  # maxpools, on the last `sps_pools` stages: grid = img_size / 2**sps_pools
    mixers: List[str] = field(default_factory=lambda: ["ssa"])  # one per block, or one for all
    # The block convention (fwformer.model): `spike` (Spikformer, QKFormer: a mixer and the MLP end in
    # a LIF and their spikes are added to the residual stream) or `membrane` (Spike-driven Transformer,
    # SWformer: each begins with a LIF and ends with BN; the stream holds real values).
    shortcut: str = "spike"
    head_lif: bool = False  # a LIF between the token mean and the classifier (Spike-driven Transformer)
    tau: float = 2.0
    surrogate_alpha: float = 4.0
    # Initialisation (fwformer.model.initialise): `spikformer`, every Linear truncated normal std 0.02
    # (the reference's); `pytorch`, PyTorch's own; `spike-driven`, every conv and every Linear that stands
    # for one of its 1x1 convs truncated normal std 0.02, the classifier PyTorch's (Spike-driven
    # Transformer's `_init_weights`); `swformer`, only the classifier truncated normal (SWformer's, whose
    # other layers are convs) (docs/guides/model.md).
    init: str = "spikformer"
    ssa: SSAConfig = field(default_factory=SSAConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    provenance: Optional[Dict[str, Any]] = None  # written by `search.export`, kept verbatim

    @property
    def grid(self) -> tuple[int, int]:
        side = self.img_size // 2**self.sps_pools
        return (side, side)

    @property
    def block_mixers(self) -> list[str]:
        """The mixer of every block: a single name stands for all of them."""
        return expand_block_mixers(self.mixers, self.depth)


#: Sections that say how a model is trained, evaluated and priced. Every other field of `Config`
#: (but `name` and `provenance`) is architecture: it decides which model is built. The canonical key
#: of an architecture, what `fwformer.evaluate` may override and what a search varies follow from this.
RUN_SECTIONS = ("data", "train", "energy")
_NOT_ARCHITECTURE = ("name", "provenance", *RUN_SECTIONS)
#: Run-time keys that change where and how fast a run goes, not what it computes: a resumed run may
#: change them (and `train.epochs`, to extend a run).
EXECUTION_KEYS = ("name", "train.epochs", "train.device", "train.num_threads", "data.root", "data.num_workers",
                  "data.download", "data.frames_cache")


def expand_block_mixers(mixers: Sequence[str], depth: int) -> list[str]:
    """The mixer of every block: a single name stands for all `depth` of them."""
    return list(mixers) * int(depth) if len(mixers) == 1 else list(mixers)


def is_run_key(key: str) -> bool:
    """True for a dotted key inside a run section (`data.*`, `train.*`, `energy.*`, or a section itself)."""
    return key.split(".")[0] in RUN_SECTIONS


def architecture(cfg: Union[Config, Dict[str, Any]]) -> Dict[str, Any]:
    """The fields of a config (or its dict) that decide the model, with every block's mixer spelled out."""
    d = config_to_dict(cfg) if isinstance(cfg, Config) else dict(cfg)
    arch = {k: v for k, v in d.items() if k not in _NOT_ARCHITECTURE}
    arch["mixers"] = expand_block_mixers(arch.get("mixers") or [], arch.get("depth") or 1)
    return arch


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def _preset_or_file(source: Union[str, Path]) -> Path:
    path = Path(source)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file '{source}' does not exist")
        return path
    preset = PRESET_DIR / f"{source}.yaml"
    if not preset.is_file():
        raise ConfigError(
            f"unknown preset '{source}'{closest(str(source), preset_names())}; "
            f"expected a YAML file or one of: {', '.join(preset_names())}"
        )
    return preset


def _merge(base: Any, *layers: Any) -> Config:
    from fwformer.cli import merge_structured, to_object

    cfg = to_object(Config, merge_structured(Config, base, *layers))
    assert isinstance(cfg, Config)
    return cfg


def load_config(
    source: Union[str, Path, Config, Dict[str, Any]], overrides: Sequence[str] = (), *, check: bool = True
) -> Config:
    """A validated Config from a preset name, YAML path, dict or Config, plus dotlist overrides."""
    from omegaconf import OmegaConf

    from fwformer.cli import expand_shorthands, parse_overrides

    if isinstance(source, Config):
        base = OmegaConf.structured(source)
    elif isinstance(source, dict):
        base = OmegaConf.create(source)
    else:
        path = _preset_or_file(source)
        try:
            base = OmegaConf.load(path)
        except Exception as err:  # YAML syntax errors come from several parsers
            raise ConfigError(f"cannot read config file '{path}': {str(err).splitlines()[0]}") from None
    # `data=digits` names the dataset, `mixers=fft2d` means one mixer for every block.
    layer = parse_overrides(expand_shorthands(overrides, lists=("mixers",)))
    cfg = _merge(base, layer)
    if check:
        validate(cfg)
    return cfg


def config_to_dict(cfg: Config) -> Dict[str, Any]:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)  # type: ignore[return-value]


def save_config(cfg: Config, path: Union[str, Path]) -> None:
    import yaml

    Path(path).write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


#: The most a config may ask for: well above every published spiking transformer (T 4 on images,
#: 10-16 event frames; Spikformer-8-768 on ImageNet), low enough that a typo such as T=100000 is
#: an error here instead of a 22 GB allocation in the first forward pass.
LIMITS = {"T": 64, "depth": 48, "embed_dim": 4096, "num_heads": 128, "mlp_ratio": 16.0, "sps_stages": 8,
          "img_size": 1024, "in_channels": 64, "num_classes": 100_000}


def validate(cfg: Config, *, need_geometry: bool = True) -> None:
    """Check what types cannot: ranges, agreement between fields, and every mixer on the grid."""
    for key, most in LIMITS.items():
        value = getattr(cfg, key)
        _require(value is None or value <= most,
                 f"{key} must be at most {most} (far above any published spiking transformer), but got {key}={value}")
    _require(cfg.T >= 1, f"T must be >= 1, but got T={cfg.T}")
    _require(cfg.depth >= 1, f"depth must be >= 1, but got depth={cfg.depth}")
    _require(cfg.embed_dim >= 1, f"embed_dim must be >= 1, but got embed_dim={cfg.embed_dim}")
    _require(cfg.num_heads >= 1 and cfg.embed_dim % cfg.num_heads == 0,
             f"embed_dim must be divisible by num_heads, but got embed_dim={cfg.embed_dim}, num_heads={cfg.num_heads}")
    _require(cfg.sps_stages >= 1, f"sps_stages must be >= 1, but got sps_stages={cfg.sps_stages}")
    _require(cfg.embed_dim % 2 ** max(cfg.sps_stages - 1, 0) == 0 or cfg.sps_stages == 1,
             f"embed_dim must be divisible by 2**(sps_stages-1) for the patch splitter's widths, "
             f"but got embed_dim={cfg.embed_dim}, sps_stages={cfg.sps_stages}")
    _require(0 <= cfg.sps_pools <= cfg.sps_stages,
             f"sps_pools must be between 0 and sps_stages={cfg.sps_stages}, but got sps_pools={cfg.sps_pools}")
    _require(cfg.mlp_ratio > 0, f"mlp_ratio must be > 0, but got mlp_ratio={cfg.mlp_ratio}")
    _require(cfg.tau > 1.0, f"tau must be > 1 (spikingjelly's LIF), but got tau={cfg.tau}")
    _require(cfg.init in INIT_SCHEMES, f"init must be one of {', '.join(INIT_SCHEMES)}, but got init='{cfg.init}'")
    _require(cfg.shortcut in SHORTCUTS,
             f"shortcut must be one of {', '.join(SHORTCUTS)}, but got shortcut='{cfg.shortcut}'")
    _require(math.isfinite(cfg.ssa.scale) and cfg.ssa.scale > 0,
             f"ssa.scale must be a finite number > 0 (Spikformer: 0.125 CIFAR, 0.25 events), but got {cfg.ssa.scale}")
    _require(len(cfg.mixers) in (1, cfg.depth),
             f"mixers must have one name or one per block (depth={cfg.depth}), but got {len(cfg.mixers)}: {list(cfg.mixers)}")
    for key in ("img_size", "in_channels", "num_classes"):
        value = getattr(cfg, key)
        _require(value is None or value >= 1, f"{key} must be >= 1, but got {key}={value}")
        _require(value is not None or not need_geometry,
                 f"{key} is not set; set it in the config or take it from a dataset")
    if cfg.img_size is not None:
        side = cfg.img_size // 2**cfg.sps_pools
        _require(side >= 1 and cfg.img_size % 2**cfg.sps_pools == 0,
                 f"img_size={cfg.img_size} must be divisible by 2**sps_pools={2**cfg.sps_pools}")
        from fwformer.mixers import check_mixer

        for name in set(cfg.block_mixers):
            check_mixer(name, grid=cfg.grid)
    else:
        from fwformer.mixers import check_mixer

        for name in set(cfg.block_mixers):
            check_mixer(name, grid=None)
    check_energy_config(cfg.energy)


def check_energy_config(ec: EnergyConfig) -> None:
    """The energy model's name and its costs (one line naming the key and what is allowed)."""
    from fwformer.energy import check_energy_options

    check_energy_options(ec.model, e_mac_pj=ec.e_mac_pj, e_ac_pj=ec.e_ac_pj,
                         e_memory_pj_per_byte=ec.e_memory_pj_per_byte)


def check_train_config(tc: TrainConfig) -> None:
    rules = [
        (1 <= tc.epochs <= 100_000, f"train.epochs must be between 1 and 100000, but got {tc.epochs}"),
        (1 <= tc.batch_size <= 65_536, f"train.batch_size must be between 1 and 65536, but got {tc.batch_size}"),
        (tc.lr > 0, f"train.lr must be > 0, but got {tc.lr}"),
        (0 <= tc.min_lr <= tc.lr, f"train.min_lr must be between 0 and train.lr={tc.lr}, but got {tc.min_lr}"),
        (tc.weight_decay >= 0, f"train.weight_decay must be >= 0, but got {tc.weight_decay}"),
        (tc.warmup_epochs >= 0, f"train.warmup_epochs must be >= 0, but got {tc.warmup_epochs}"),
        (tc.warmup_lr is None or 0 <= tc.warmup_lr <= tc.lr,
         f"train.warmup_lr must be null or between 0 and train.lr={tc.lr}, but got {tc.warmup_lr}"),
        (not tc.lr_per_epoch or float(tc.warmup_epochs).is_integer(),
         f"train.lr_per_epoch=true needs a whole number of train.warmup_epochs, but got {tc.warmup_epochs}"),
        (tc.cooldown_epochs >= 0, f"train.cooldown_epochs must be >= 0, but got {tc.cooldown_epochs}"),
        (tc.mixup_off_epoch is None or tc.mixup_off_epoch >= 1,
         f"train.mixup_off_epoch must be >= 1 or null (never), but got {tc.mixup_off_epoch}"),
        (0 <= tc.label_smoothing < 1, f"train.label_smoothing must be in [0, 1), but got {tc.label_smoothing}"),
        (tc.mixup >= 0 and tc.cutmix >= 0, f"train.mixup and train.cutmix must be >= 0, but got {tc.mixup}, {tc.cutmix}"),
        (tc.grad_clip >= 0, f"train.grad_clip must be >= 0 (0: off), but got {tc.grad_clip}"),
        (tc.max_steps_per_epoch is None or tc.max_steps_per_epoch >= 1,
         f"train.max_steps_per_epoch must be >= 1 or null, but got {tc.max_steps_per_epoch}"),
        (tc.energy_batches >= 1, f"train.energy_batches must be >= 1, but got {tc.energy_batches}"),
        (tc.num_threads is None or tc.num_threads >= 1, f"train.num_threads must be >= 1 or null, but got {tc.num_threads}"),
    ]
    for ok, message in rules:
        if not ok:
            raise ConfigError(message)


def resolve_device(name: str) -> torch.device:
    """The device `train.device` names: `auto` is CUDA when there is one, else the CPU; other names
    must be available here. Torch loads on the first call, not with the config."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown train.device '{name}'; expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device={name} but CUDA is not available here; use train.device=auto or cpu")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"unsupported train.device '{name}'; expected auto, cpu, cuda or cuda:N")
    return device
