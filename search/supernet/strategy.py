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
from typing import Any

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
        # The budget of trained trials is k, fixed before the ledger and the terminal read it.
        study.search.trials = int(self.settings.confirm)
        self.cfg = training_config(study)
        given = self.settings.checkpoint
        self.dir = Path(given).expanduser() if given else default_dir(plan.workdir, self.cfg)
        self.reused = given is not None

    # ---- the phases -------------------------------------------------------------------------------
    def prepare(self, optuna_study: Any, tracker: Any, progress: Any, stop: Any) -> None:
        if optuna_study.user_attrs.get(confirm.ENQUEUED) is not None:
            confirm.label_confirmed(optuna_study, tracker)
            return
        from fwformer.data import build_datasets

        tracker.set_tags(tracker.parent_id, {"strategy": "supernet"})
        datasets = build_datasets(self.cfg)
        self._train(optuna_study, tracker, progress, stop, datasets)
        self._interrupted(stop)
        cstudy, runs = self._score(optuna_study, tracker, progress, stop, datasets)
        self._interrupted(stop)
        self._confirm(optuna_study, cstudy, tracker, progress, runs)

    def label_confirmed(self, optuna_study: Any, tracker: Any) -> None:
        confirm.label_confirmed(optuna_study, tracker)

    @staticmethod
    def _interrupted(stop: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt

    def _train(self, optuna_study: Any, tracker: Any, progress: Any, stop: Any, datasets: tuple) -> None:
        done, planned = trained_epochs(self.dir)
        spec = self.cfg.provenance["supernet"]
        params = {"epochs": self.cfg.train.epochs, "sampling": spec["sampling"], "T": spec["T"],
                  "blocks": spec["blocks"], "checkpoint": str(self.dir)}
        trained = bool(planned) and done >= planned
        previous = optuna_study.user_attrs.get(RUN_ATTR)
        run_id = tracker.open_labelled_child(
            "supernet", run_id=previous, params=params,
            tags={"role": "supernet", "evaluation": "supernet-training", "supernet_key": supernet_key(self.cfg),
                  "reused": str(self.reused or trained).lower()})
        optuna_study.set_user_attr(RUN_ATTR, run_id)
        if trained:
            progress.say(f"supernet: trained ({done} epochs) in {self.dir}; reusing it")
            if run_id != previous:  # a new run for a supernet trained before: show its curve
                self._log_history(tracker, run_id)
            tracker.close_run(run_id, "FINISHED")
            return
        epochs = self.cfg.train.epochs
        n_mixers = sorted({len(b) for b in spec["blocks"]})
        progress.say(f"supernet: training {epochs} epochs over {'/'.join(map(str, n_mixers))} mixers per block and "
                     f"T in {spec['T']} ({spec['sampling']} paths), {'continuing ' if done else ''}in {self.dir}")

        def report(metrics: dict) -> bool:
            tracker.log_epoch(run_id, {k: v for k, v in metrics.items() if k != "epoch"}, step=int(metrics["epoch"]))
            progress.say(f"  supernet epoch {metrics['epoch']}/{epochs}  loss {metrics['train_loss']:.4f}  "
                         f"val_acc over random paths {metrics['val_acc']:.4f}  {metrics['epoch_time_s']:.1f}s")
            return stop.is_set()

        result = train_supernet(self.cfg, self.dir, report=report, datasets=datasets, num_threads=self.plan.num_threads)
        if stop.is_set():
            tracker.close_run(run_id, "KILLED")
            return
        tracker.log_epoch(run_id, {"supernet_params": result["params"], "train_time_s": result["train_time_s"]},
                          step=int(result["epochs"]))
        tracker.close_run(run_id, "FINISHED")

    def _log_history(self, tracker: Any, run_id: str) -> None:
        from fwformer.checkpoint import load_checkpoint

        for h in load_checkpoint(self.dir).get("history") or []:
            tracker.log_epoch(run_id, {k: v for k, v in h.items() if k != "epoch"}, step=int(h["epoch"]))

    def _score(self, optuna_study: Any, tracker: Any, progress: Any, stop: Any, datasets: tuple) -> tuple:
        from fwformer.engine import resolve_device, torch_settings
        from search.samplers import make_sampler, session_seed
        from search.supernet.evaluate import SubnetScorer

        study, s, n = self.plan.study, self.plan.study.search, self.settings
        cstudy = cand.open_candidates(self.plan.storage, study, sampler_of=lambda stored: make_sampler(
            s.sampler, seed=session_seed(s.seed, stored), budget=n.candidates, **dict(s.sampler_options or {})))
        failed = cand.fail_running(cstudy)
        runs = cand.log_missing(cstudy, tracker)
        done = len(cand.scored(cstudy))
        if done >= n.candidates:
            return cstudy, runs
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

            def on_scored(trial: Any, result: dict, key: str) -> None:
                runs[trial.number] = cand.candidate_run(tracker, trial, result, key)
                count = len(runs)
                if count % 25 == 0 or count == n.candidates:
                    progress.say(f"  candidates {count}/{n.candidates}  last: " + "  ".join(
                        f"{m} {result[m]:.4g}" for m in study.metric_names) + f"  |  {progress.elapsed()}")

            complete = cand.search_candidates(cstudy, study, scorer, budget=n.candidates, on_scored=on_scored, stop=stop)
        if not complete and not stop.is_set():
            progress.say(f"candidates: the sampler proposed only repeats; the space is exhausted after "
                         f"{len(cand.scored(cstudy))} distinct sub-networks")
        return cstudy, runs

    def _confirm(self, optuna_study: Any, cstudy: Any, tracker: Any, progress: Any, runs: dict) -> None:
        from search.front import Objectives

        objectives = Objectives.of(self.plan.study.objectives, self.plan.reference)
        pool = cand.scored(cstudy)
        points = [list(t.values) for t in pool]
        front = {pool[i].number for i in confirm.front_indices(points, objectives.directions)}
        picked = [pool[i] for i in confirm.choose(points, objectives.directions, objectives.reference,
                                                  int(self.settings.confirm))]
        confirm.enqueue(optuna_study, picked)
        for run_id, tags in cand.front_tags(runs, front, {t.number for t in picked}).items():
            tracker.set_tags(run_id, tags)
        tracker.log_parent_text(json.dumps([{"candidate": t.number, **dict(zip(objectives.metrics, t.values)),
                                             **t.params, "on_front": t.number in front} for t in pool], indent=1),
                                "supernet_candidates.json")
        shown = ", ".join(f"{t.number} (" + ", ".join(f"{m} {v:.4g}" for m, v in zip(objectives.metrics, t.values))
                          + ")" for t in picked)
        progress.say(f"supernet front: {len(front)} of {len(pool)} candidates; training the best {len(picked)} "
                     f"stand-alone: candidate {shown}")

