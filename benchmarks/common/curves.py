"""Every architecture trained once, stand-alone, as a trial trains it, and cached with its curve and cost.

The one train-and-cache helper of the benchmarks (search efficiency, the one-shot benchmark and
search at `fw_pareto`'s size): a row per canonical key holds the objectives, the CPU-seconds and
wall seconds the training took, the CPU that trained it, and the per-epoch curve (val_acc and
CPU-seconds to each epoch).

Training is seeded and deterministic on the CPU, so a trial stopped at epoch e would have produced
exactly the first e epochs of this curve: an early-stopping strategy is charged the CPU-seconds up
to its stopping epoch, a full trial the whole run (the final energy pass included). A training
under an early-stopping rule (`stop`) keeps its partial curve; a later request that needs the whole
run trains the architecture again. The cache file lets a rerun reuse what was trained; a cache that
must not train (`trains = False`, a replay of a run still under way) raises `NotCached` where it
would, and builds no dataset. A cache file written under other data or training settings than the
study's is refused (its `fingerprint`).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Optional

from benchmarks.common.output import write_json
from benchmarks.common.provenance import cpu_model


class NotCached(Exception):
    """A replay reached an architecture the cache holds no complete curve of, and may not train it."""


class CurveCache:
    """Stand-alone trainings of `study`'s architectures by canonical key, read from and written to `path`.

    `epochs` shortens every training (the search-efficiency benchmark's 3-epoch landscape) and
    `threads` sets its torch threads; otherwise a training is exactly the study's trial.
    """

    trains = True  # False: replay only what is cached (NotCached where a training would be needed)

    def __init__(self, study: Any, path: Optional[Path], log: Callable[[str], None], *,
                 epochs: Optional[int] = None, threads: Optional[int] = None):
        self.study, self.path, self.log = study, path, log
        self.epochs, self.threads = epochs, threads
        self.results: dict[str, dict] = {}
        self.trained: list[str] = []  # keys trained by this process, in order
        self._keys: dict[tuple, str] = {}
        self._datasets: Optional[tuple] = None
        self.fingerprint = self._fingerprint()
        if path is not None and path.is_file():
            self.results = self._read(path)
            log(f"  cache: {len(self.results)} architectures from {path}")

    # ---- reading -------------------------------------------------------------------------------
    def _read(self, path: Path) -> dict[str, dict]:
        from fwformer.cli import ConfigError

        try:
            stored = json.loads(path.read_text())
            results = dict(stored["results"])
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"--cache {path} is not a curve cache (JSON with results, as `run --cache` writes "
                              f"it): {type(err).__name__}: {err}") from None
        differ = differences(stored.get("fingerprint") or {}, self.fingerprint)
        if differ:
            raise ConfigError(f"--cache {path} was made with other settings ({', '.join(differ)}); "
                              f"pass another --cache file or delete it")
        return results

    def _fingerprint(self) -> dict[str, Any]:
        """What makes two trainings of one architecture comparable: the study, its epochs, its data
        and training settings (not where the data lies, how many threads or which device)."""
        from fwformer.config import config_to_dict

        base = config_to_dict(self.study.base)
        data = {k: v for k, v in base["data"].items() if k not in ("root", "path", "download", "num_workers")}
        train = {k: v for k, v in base["train"].items() if k not in ("epochs", "num_threads", "device")}
        epochs = self.epochs if self.epochs is not None else int(self.study.base.train.epochs)
        return dict(study=self.study.name, epochs=epochs, data=data, train=train)

    # ---- keys and rows -------------------------------------------------------------------------
    def config(self, params: dict) -> Any:
        """The training config of a trial's params: the study's, shortened to `epochs`, on the CPU."""
        cfg = self.study.trial_config(params)
        if self.epochs is not None:
            cfg.train.epochs = self.epochs
        cfg.train.device = "cpu"
        if self.threads is not None:
            cfg.train.num_threads = self.threads
        return cfg

    def key(self, params: dict) -> str:
        """The architecture's canonical key, remembered: building a trial config takes a tenth of a second."""
        choice = tuple(sorted(params.items()))
        if choice not in self._keys:
            self._keys[choice] = self.study.space.canonical_key(self.study.trial_config(params))
        return self._keys[choice]

    def get(self, params: dict) -> Optional[dict]:
        return self.results.get(self.key(params))

    def add(self, rows: dict[str, dict]) -> None:
        """Rows trained elsewhere (in worker processes), by key; written to the cache file."""
        self.results.update(rows)
        if rows:
            self.save()

    def save(self) -> None:
        if self.path is not None:
            write_json(self.path, dict(study=self.study.name, fingerprint=self.fingerprint, results=self.results))

    def __call__(self, params: dict, stop: Optional[Callable[[dict], bool]] = None) -> tuple[str, dict]:
        """The architecture's row, trained (under `stop`, when given) unless a complete one is cached."""
        key = self.key(params)
        if key not in self.results or not self.results[key].get("complete", True):
            if not self.trains:
                raise NotCached(key)
            self.results[key] = self._train(self.config(params), params, stop)
            self.trained.append(key)
            self.save()
            row = self.results[key]
            self.log(f"    trained #{len(self.results)} T{row['T']} {','.join(row['mixers'])}: "
                     f"val_acc {row.get('val_acc', float('nan')):.4f} energy {row.get('energy_mj', float('nan')):.4g} "
                     f"mJ ({row['cpu_s']:.1f} CPU-s)")
        return key, self.results[key]

    # ---- training ------------------------------------------------------------------------------
    def datasets(self) -> tuple:
        """The study's datasets, built on the first training (a replay that trains nothing needs none)."""
        if self._datasets is None:
            from fwformer.data import build_datasets, with_data_geometry

            self._datasets = build_datasets(with_data_geometry(self.study.base))
        return self._datasets

    def _train(self, cfg: Any, params: dict, stop: Optional[Callable[[dict], bool]]) -> dict:
        from fwformer.train import NonFiniteLossError, train
        from search.records import model_cost

        param_count, bound = model_cost(cfg)
        datasets = self.datasets()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        epochs: list[dict] = []

        def on_epoch(metrics: dict) -> bool:
            epochs.append(dict(epoch=int(metrics["epoch"]), val_acc=float(metrics["val_acc"]),
                               cpu_s=time.process_time() - cpu0))
            if stop is not None and stop(metrics):
                raise _Stopped  # the search stops the trial here: no final measurement
            return False

        # The CPU it was trained on: a cache filled over several sessions may span machines whose
        # CPU-seconds differ (an AMD EPYC trained the CIFAR trials 1.8x faster than an Intel Xeon).
        row: dict[str, Any] = dict(mixers=list(cfg.block_mixers), T=cfg.T, params=dict(params),
                                   param_count=param_count, energy_bound_mj=bound, cpu=cpu_model())
        try:
            result = train(cfg, progress=False, datasets=datasets, report=on_epoch)
            metrics = dict.fromkeys(["val_acc", "energy_mj", *self.study.metric_names])
            row.update({m: float(result[m]) for m in metrics}, train_time_s=result.get("train_time_s"),
                       failed=False, complete=True)
        except _Stopped:
            row.update(failed=False, complete=False)
        except NonFiniteLossError as err:
            row.update(failed=True, error=str(err), complete=True)
        row.update(cpu_s=time.process_time() - cpu0, wall_s=time.perf_counter() - wall0, epochs=epochs)
        return row


class _Stopped(Exception):
    """Raised from the epoch callback when the early-stopping rule stops the trial."""


def differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Keys whose values differ between two fingerprints. A key present on one side only is a field
    added to (or removed from) the config schema since, and does not count: its value is the default."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) & set(b)):
            out += differences(a[key], b[key], f"{prefix}{key}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]
