"""What every benchmark family shares.

Modules: `provenance` (the repository, the shared data paths, the machine, commit and library
versions every result file records), `output` (result files written whole or not at all; output
options checked before any work), `figures` (medians, quartiles, Kendall's tau, number formatting),
`curves` (`CurveCache`: the one train-and-cache helper, every architecture trained once with its
per-epoch curve and cost), `asktell` (`per_trial_search`: the per-trial search's ask/tell loop and
budget rule) and `architectures` (`random_architectures`: the uniform sample rank fidelity uses).
"""
from benchmarks.common.architectures import random_architectures
from benchmarks.common.asktell import Outcome, per_trial_search
from benchmarks.common.curves import CurveCache, NotCached
from benchmarks.common.figures import fmt, kendall, median, quartiles
from benchmarks.common.output import check_outputs, read_result_files, write_json, write_whole
from benchmarks.common.provenance import (CIFAR_SUBSET, LIBRARIES, PAGES, REPO, SHARED_DATA, cpu_model, git_commit,
                                          library_versions, machine_info, source_digest, usable_cores)

__all__ = [
    "CIFAR_SUBSET", "CurveCache", "LIBRARIES", "NotCached", "Outcome", "PAGES", "REPO", "SHARED_DATA", "check_outputs",
    "cpu_model", "fmt", "git_commit", "kendall", "library_versions", "machine_info", "median", "per_trial_search",
    "quartiles", "random_architectures", "read_result_files", "source_digest", "usable_cores", "write_json", "write_whole",
]
