"""`search.strategy: supernet`, the phases `search.run.run_study` runs before its trial loop:

1. train the study's supernet, or continue its training, or reuse a trained one (`training`);
2. score `search.supernet.candidates` sub-networks the study's sampler proposes (`candidates`,
   `evaluate`), each a child run of the study tagged `evaluation=supernet`;
3. queue the best k of their front as trials of the study (`confirm`); the normal trial loop then
   trains them stand-alone with a budget of k.

Every phase resumes: the supernet from its epoch checkpoint, the candidates from their Optuna study,
and the queue is written once. A stop request (Ctrl-C) ends the current phase at its next epoch or
candidate and raises KeyboardInterrupt, which `run_study` turns into a clean stop.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from search.supernet import candidates as cand
from search.supernet import confirm
from search.supernet.training import (default_dir, load_supernet, supernet_key, train_supernet, trained_epochs,
                                      training_config)

RUN_ATTR = "supernet_run_id"  # study attribute: the MLflow run of the supernet


class SupernetStrategy:
    def __init__(self, plan: Any):
        self.plan = plan
        study = plan.study
        self.settings = study.search.supernet
        self.cfg = training_config(study)
        given = self.settings.checkpoint
        self.dir = Path(given).expanduser() if given else default_dir(plan.workdir, self.cfg)
        self.reused = given is not None

    # ---- the phases -------------------------------------------------------------------------------
    def prepare(self, optuna_study: Any, log: Any, trial_log: Any, progress: Any, stop: Any,
                datasets: Optional[tuple] = None) -> None:
        """The phases before the trial loop; every MLflow write goes through `log` (a `SupernetLog`)
        and `trial_log`, so a tracking outage never stops them. `datasets`: what the plan's checks
        built for the same data section (not loaded twice)."""
        if optuna_study.user_attrs.get(confirm.ENQUEUED) is not None:
            confirm.label_confirmed(optuna_study, trial_log.note)
            return
        from fwformer.data import build_datasets

        log.parent_tags({"strategy": "supernet"})
        datasets = datasets or build_datasets(self.cfg)
        self._train(optuna_study, log, progress, stop, datasets)
        self._interrupted(stop)
        cstudy = self._score(optuna_study, log, progress, stop, datasets)
        self._interrupted(stop)
        self._confirm(optuna_study, cstudy, log, progress)

    def label_confirmed(self, optuna_study: Any, trial_log: Any) -> None:
        confirm.label_confirmed(optuna_study, trial_log.note)

    @staticmethod
    def _interrupted(stop: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt

    def _train(self, optuna_study: Any, log: Any, progress: Any, stop: Any, datasets: tuple) -> None:
        done, planned = trained_epochs(self.dir)
        spec = self.cfg.provenance["supernet"]
        params = {"epochs": self.cfg.train.epochs, "sampling": spec["sampling"], "T": spec["T"],
                  "candidate_lr": spec.get("candidate_lr", 1.0), "distill": spec.get("distill", "none"),
                  "batchnorm": spec.get("batchnorm", "shared"),
                  "blocks": spec["blocks"], "checkpoint": str(self.dir)}
        trained = bool(planned) and done >= planned
        previous = optuna_study.user_attrs.get(RUN_ATTR)
        run = log.open_supernet_run(
            previous, params=params,
            tags={"role": "supernet", "evaluation": "supernet-training", "supernet_key": supernet_key(self.cfg),
                  "reused": str(self.reused or trained).lower()},
            on_created=lambda run_id: optuna_study.set_user_attr(RUN_ATTR, run_id))
        if trained:
            progress.say(f"supernet: trained ({done} epochs) in {self.dir}; reusing it")
            if not run.reopened:  # a new run for a supernet trained before: show its curve
                self._log_history(log, run)
            log.close(run, "FINISHED")
            return
        epochs = self.cfg.train.epochs
        n_mixers = sorted({len(b) for b in spec["blocks"]})
        progress.say(f"supernet: training {epochs} epochs over {'/'.join(map(str, n_mixers))} mixers per block and "
                     f"T in {spec['T']} ({spec['sampling']} paths), {'continuing ' if done else ''}in {self.dir}")

        def report(metrics: dict) -> bool:
            log.epoch(run, {k: v for k, v in metrics.items() if k != "epoch"}, step=int(metrics["epoch"]))
            progress.say(f"  supernet epoch {metrics['epoch']}/{epochs}  loss {metrics['train_loss']:.4f}  "
                         f"val_acc over random paths {metrics['val_acc']:.4f}  {metrics['epoch_time_s']:.1f}s")
            return stop.is_set()

        result = train_supernet(self.cfg, self.dir, report=report, datasets=datasets, num_threads=self.plan.num_threads)
        if stop.is_set():
            log.close(run, "KILLED")
            return
        log.epoch(run, {"supernet_params": result["params"], "train_time_s": result["train_time_s"]},
                  step=int(result["epochs"]))
        log.close(run, "FINISHED")

    def _log_history(self, log: Any, run: Any) -> None:
        from fwformer.train import load_checkpoint

        for h in load_checkpoint(self.dir).get("history") or []:
            log.epoch(run, {k: v for k, v in h.items() if k != "epoch"}, step=int(h["epoch"]))

    def _score(self, optuna_study: Any, log: Any, progress: Any, stop: Any, datasets: tuple) -> Any:
        from fwformer.config import resolve_device
        from fwformer.train import torch_settings
        from search.supernet.evaluate import SubnetScorer

        study, s, n = self.plan.study, self.plan.study.search, self.settings
        cstudy = cand.open_candidates(self.plan.storage, study)
        failed = cand.fail_running(cstudy)
        cand.log_missing(cstudy, log)
        done = len(cand.scored(cstudy))
        if done >= n.candidates:
            return cstudy
        device = resolve_device(self.cfg.train.device)
        supernet, cfg, _ = load_supernet(self.dir, device)
        tc = cfg.train
        if tc.num_threads is None and self.plan.num_threads:
            tc.num_threads = self.plan.num_threads
        progress.say(f"candidates: scoring {n.candidates - done} sub-networks with inherited weights "
                     f"({done} scored before{f', {failed} interrupted' if failed else ''}), sampler {s.sampler}")
        with torch_settings(tc, device):
            scorer = SubnetScorer(supernet, self.cfg, datasets, device=device, calibration_batches=n.calibration_batches,
                                  val_batches=n.val_batches, metrics=study.metric_names)
            count = done

            def on_scored(trial: Any, result: dict, key: str) -> None:
                nonlocal count
                log.candidate(trial, result, key)
                count += 1
                if count % 25 == 0 or count == n.candidates:
                    progress.say(f"  candidates {count}/{n.candidates}  last: " + "  ".join(
                        f"{m} {result[m]:.4g}" for m in study.metric_names) + f"  |  {progress.elapsed()}")

            complete = cand.search_candidates(cstudy, study, scorer, budget=n.candidates, on_scored=on_scored, stop=stop)
        if not complete and not stop.is_set():
            progress.say(f"candidates: the sampler proposed only repeats; the space is exhausted after "
                         f"{len(cand.scored(cstudy))} distinct sub-networks")
        return cstudy

    def _confirm(self, optuna_study: Any, cstudy: Any, log: Any, progress: Any) -> None:
        from search.front import Objectives

        objectives = Objectives.of(self.plan.study.objectives, self.plan.reference)
        pool = cand.scored(cstudy)
        points = [list(t.values) for t in pool]
        front = {pool[i].number for i in confirm.front_indices(points, objectives.directions)}
        picked = [pool[i] for i in confirm.choose(points, objectives.directions, objectives.reference,
                                                  int(self.settings.confirm))]
        confirm.enqueue(optuna_study, picked)  # Optuna first: the queue is the phase's outcome
        log.candidate_tags(cand.front_tags({t.number for t in pool}, front, {t.number for t in picked}))
        log.parent_text(json.dumps([{"candidate": t.number, **dict(zip(objectives.metrics, t.values)),
                                     **t.params, "on_front": t.number in front} for t in pool], indent=1),
                        "supernet_candidates.json")
        shown = ", ".join(f"{t.number} (" + ", ".join(f"{m} {v:.4g}" for m, v in zip(objectives.metrics, t.values))
                          + ")" for t in picked)
        progress.say(f"supernet front: {len(front)} of {len(pool)} candidates; training the best {len(picked)} "
                     f"stand-alone: candidate {shown}")
