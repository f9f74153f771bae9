"""`python -m benchmarks.worker_memory`: a shrunk search, then one of its trials alone, each sampled;
then the import costs."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

from benchmarks.common import REPO, check_outputs, machine_info, read_result_files, write_json
from benchmarks.worker_memory.sampling import import_cost, is_trial_worker, sampled
from benchmarks.worker_memory.tables import markdown_table
from fwformer.cli import exit_on_user_error


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.worker_memory",
                                description="Resident memory of a search's trial workers against the same training "
                                            "run alone.")
    p.add_argument("--study", default="quickstart")
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--json", default=None)
    p.add_argument("--report", nargs="+", default=None, metavar="FILE",
                   help="print the markdown table of these result files and stop")
    return p


@exit_on_user_error
def main(argv: Optional[list[str]] = None) -> dict:
    args = build_parser().parse_args(argv)
    if args.report:
        print("\n\n".join(markdown_table(payload) for payload in read_result_files(args.report, "--report")))
        return {}
    check_outputs({"--json": args.json})
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "FWFORMER_SEARCH_TRAINABLE")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    shrink = [f"search.trials={args.trials}", f"train.epochs={args.epochs}", "search.max_concurrent=2"]
    result: dict[str, Any] = dict(benchmark="worker_memory", machine=machine_info("cpu"), study=args.study,
                                  command="python -m benchmarks.worker_memory " + " ".join(sys.argv[1:] if argv is None
                                                                                           else argv))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run, sampler, seconds = sampled([sys.executable, "-m", "search.run", "--study", args.study, *shrink], tmp, env)
        if run.returncode != 0:
            raise SystemExit(f"search.run failed:\n{run.stdout[-3000:]}")
        workers = [p for p in sampler.peaks.values() if is_trial_worker(p["cmd"])]
        result["search"] = dict(seconds=seconds, overrides=shrink, workers=workers,
                                peak_worker_rss_mb=max(w["rss"] for w in workers),
                                peak_worker_pss_mb=max(w["pss"] for w in workers),
                                peak_worker_uss_mb=max(w["uss"] for w in workers),
                                session_pss_peak_mb=sampler.total_pss_peak)
        from search.study import load_study

        study = load_study(args.study, shrink)
        params = {f"mixer_{i}": c[0] for i, c in enumerate(study.space.block_choices)}
        params["T"] = max(study.space.T)
        cfg_path = tmp / "trial.yaml"
        from fwformer.config import save_config

        save_config(study.trial_config({**params, **{k: v[0] for k, v in study.space.dims.items()}}), cfg_path)
        alone, sampler2, seconds2 = sampled([sys.executable, "-m", "fwformer.train", "--config", str(cfg_path),
                                             "--out", str(tmp / "alone"), "--quiet"], tmp, env)
        if alone.returncode != 0:
            raise SystemExit(f"fwformer.train failed:\n{alone.stdout[-3000:]}")
        peak = max(sampler2.peaks.values(), key=lambda p: p["rss"])
        result["alone"] = dict(seconds=seconds2, rss_mb=peak["rss"], pss_mb=peak["pss"], uss_mb=peak["uss"],
                               mixers=[params[f"mixer_{i}"] for i in range(study.space.depth)], T=params["T"])
    result["imports_mb"] = {m: import_cost(m) for m in ("torch", "ray", "ray.tune", "mlflow",
                                                         "ray.tune, torch, fwformer.train, search.trials")}
    s, a = result["search"], result["alone"]
    print(f"trial workers ({len(s['workers'])}): peak RSS {s['peak_worker_rss_mb']:.0f} MB, PSS "
          f"{s['peak_worker_pss_mb']:.0f} MB, USS {s['peak_worker_uss_mb']:.0f} MB; the whole session's PSS peak "
          f"{s['session_pss_peak_mb']:.0f} MB")
    print(f"the same training alone: RSS {a['rss_mb']:.0f} MB, PSS {a['pss_mb']:.0f} MB, USS {a['uss_mb']:.0f} MB")
    print("imports (peak RSS of a bare interpreter): " + ", ".join(f"{k} {v:.0f} MB"
                                                                 for k, v in result["imports_mb"].items()))
    if args.json:
        write_json(args.json, result)
    print(json.dumps({k: v for k, v in s.items() if k != "workers"}, indent=1))
    return result


if __name__ == "__main__":
    main()
