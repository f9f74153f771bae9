"""Descriptions of study-file keys that have no field comment of their own in the schema, or whose
comment reads badly as a description (`field_comments`). A test checks that every key ends with a
description and that every key here exists, so a renamed field cannot leave a stale entry."""
from __future__ import annotations

DESCRIPTIONS = {
    "name": "the study's name: its Optuna study and MLflow experiment; null: the file's name",
    "description": "what the study is for, in a line (for its readers; the search does not use it)",
    "base": "the preset or YAML file (relative to the study file) every trial's model starts from",
    "objectives": "what the search optimises: one entry per metric, each with its direction and reference",
    "arch.name": "the model config's name",
    "arch.in_channels": "input channels; null: taken from the dataset",
    "arch.num_classes": "classes; null: taken from the dataset",
    "arch.T": "timesteps the model runs",
    "arch.embed_dim": "channels D of the token stream",
    "arch.depth": "transformer blocks",
    "arch.num_heads": "attention heads (read by the mixers that attend)",
    "arch.mlp_ratio": "hidden width of each block's MLP, in units of `embed_dim`",
    "arch.tau": "membrane time constant of every LIF",
    "arch.surrogate_alpha": "sharpness of the sigmoid surrogate gradient",
    "arch.shortcut": "the block convention: `spike` (Spikformer, QKFormer: a mixer and the MLP end in a LIF and "
                     "their spikes are added to the stream) or `membrane` (Spike-driven Transformer, SWformer: each "
                     "begins with a LIF and ends with BN; the stream holds real values)",
    "arch.init": "the initialisation: `spikformer`, every Linear truncated normal std 0.02 (the reference's); "
                 "`pytorch`, PyTorch's own; `spike-driven`, Spike-driven Transformer's; `swformer`, SWformer's "
                 "([the model library](../guides/model.md#initialisation))",
    "data.name": "the dataset ([datasets](../guides/datasets.md))",
    "data.val_fraction": "share of the training samples held out for validation (`split: stratified`)",
    "data.seed": "seed of the stratified validation split",
    "data.crop_padding": "zero padding around each training image before a random crop back to its size; 0: none",
    "data.hflip": "random horizontal flips of training images",
    "data.randaugment": "RandAugment on training images (`randaugment_policy`)",
    "data.normalize": "normalise images by the dataset's mean and standard deviation",
    "train.epochs": "training epochs (a search's fidelity)",
    "train.batch_size": "images per batch",
    "train.lr": "peak learning rate (AdamW)",
    "train.min_lr": "learning rate at the end of the cosine, and during the cooldown",
    "train.warmup_epochs": "epochs of linear warm-up (fractions allowed unless `lr_per_epoch`)",
    "train.cooldown_epochs": "epochs at `min_lr` after the cosine (timm's convention)",
    "train.label_smoothing": "label smoothing of the cross-entropy",
    "train.cutmix": "CutMix's Beta(alpha, alpha); 0 switches it off",
    "train.device": "where trials train: `auto` (CUDA when available, else CPU), `cpu`, `cuda` or `cuda:N`",
    "train.seed": "seed of the weights, batch order and augmentation",
    "objectives[].metric": "a metric the trials report ([objectives](objectives.md))",
    "space.wavelets": "wavelet families a bare family name (`dwt`) expands over",
    "space.levels": "decomposition levels a bare family name expands over",
    "space.embed_dim": "widths to search; empty: the base's, not searched",
    "space.num_heads": "head counts to search; empty: the base's, not searched",
    "space.mlp_ratio": "MLP ratios to search; empty: the base's, not searched",
    "space.shortcut": "block conventions to search (`spike`, `membrane`); empty: the base's, not searched",
    "space.constraints.max_params": "the most parameters a candidate may have; null: no limit",
    "search.strategy": "`trials`: train every candidate; `supernet`: one-shot, then train the best k "
                       "([per-trial or one-shot](../guides/strategy.md))",
    "search.trials": "trained trials the search ends with (the `trials` strategy)",
    "search.max_concurrent": "trials trained at the same time",
    "search.sampler": "the Optuna sampler that proposes architectures",
    "search.seed": "the sampler's seed",
    "search.early_stop.enabled": "stop trials early by the energy-aware rule "
                                 "([early stopping](../guides/early-stopping.md))",
    "search.early_stop.rule": "compare with the other trials at the same epoch: their median, or a percentile",
    "search.supernet.sampling": "`uniform` (SPOS) or `balanced` (each candidate once per cycle, FairNAS's counts)",
    "search.supernet.epochs": "supernet training epochs; null: 4 x `train.epochs`",
    "search.supernet.distill": "`none`, or `inplace`: the best path so far teaches the sampled one",
    "search.supernet.batchnorm": "`shared`, or `per-T`: every BatchNorm once per T choice",
}
