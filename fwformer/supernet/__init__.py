"""A weight-sharing supernet over per-block mixers and T, for single-path one-shot search.

Modules: `supernet` (`Supernet`, a path `Choice`, the `PathSampler`, `recalibrate_batchnorm`),
`batchnorm` (the `batchnorm: per-T` option: every BatchNorm held once per T choice) and `distill`
(the `distill: inplace` option: the best path so far teaches the sampled one). `supernet`'s
docstring describes the whole.
"""
from fwformer.supernet.batchnorm import BATCHNORM, PerTBatchNorm, split_by_T, standalone_key
from fwformer.supernet.distill import DECAY, REFRESH, BestSoFar, distillation_loss, soft_cross_entropy
from fwformer.supernet.supernet import (DISTILL, MIXER_KEY, SAMPLING, Choice, PathSampler, SuperBlock, Supernet,
                                        recalibrate_batchnorm)

__all__ = ["BATCHNORM", "DECAY", "DISTILL", "MIXER_KEY", "REFRESH", "SAMPLING", "BestSoFar", "Choice", "PathSampler",
           "PerTBatchNorm", "SuperBlock", "Supernet", "distillation_loss", "recalibrate_batchnorm",
           "soft_cross_entropy", "split_by_T", "standalone_key"]
