"""The GPU check: its dry run passes on the CPU (so the check cannot rot between device loans), a step
that fails or hangs costs only itself, and the options are checked before anything runs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_errors import refuse

from benchmarks.gpu_check import STEPS, build_parser, main
from benchmarks.gpu_check.headlines import headline
from benchmarks.gpu_check.plan import BOXES, BUDGET_S, Step
from benchmarks.gpu_check.prepare import device_call, pinned, remove_stale
from benchmarks.gpu_check.runner import check_environment, run_steps
from benchmarks.gpu_check.tests_step import read_junit
from benchmarks.gpu_check.training import FALLBACK_FIXED, fixed_mixer

REPO = Path(__file__).resolve().parents[2]


def test_the_dry_run_runs_every_step_on_the_cpu_and_leaves_a_file_for_each(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--dry-run", "--out", str(out),
                           "--scratch", str(tmp_path / "scratch")], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] and summary["dry_run"] and not summary["cuda"]
    statuses = {r["step"]: r["status"] for r in summary["steps"]}
    assert list(statuses) == list(STEPS)
    assert statuses == {"tests": "pass", "mixers_fp32": "pass", "mixers_bf16": "skipped: no CUDA", "neurons": "pass",
                        "training": "pass", "mixers_events": "skipped: no CUDA"}
    assert sorted(p.name for p in out.iterdir()) == sorted(["summary.json", *(r["file"] for r in summary["steps"])])
    assert len(list(out.iterdir())) <= 8, "a device call brings back 8 files at most"
    assert len([line for line in proc.stdout.splitlines() if line.startswith("[")]) == len(STEPS)

    files = {r["step"]: json.loads((out / r["file"]).read_text()) for r in summary["steps"]}
    tests = files["tests"]["runs"]
    assert tests["gpu_marked"]["counts"]["skipped"] > 0 and tests["gpu_marked"]["failures"] == []
    assert tests["model_tests_cuda"]["status"] == "skipped: no CUDA"
    mixers = files["mixers_fp32"]  # the mixers benchmark's own file
    assert mixers["benchmark"] == "mixers" and mixers["machine"]["device"] == "cpu"
    assert set(mixers["geometries"]["small"]["mixers"]) == {"ssa", "fft2d", "identity"}
    assert files["mixers_bf16"] == {"step": "mixers_bf16", "status": "skipped: no CUDA", "error": []}
    assert files["neurons"]["selected"] == "torch" and files["neurons"]["compile"] == "skipped: no CUDA"
    training = files["training"]
    assert set(training["alone"]) == set(training["together"]) == {"ssa", FALLBACK_FIXED}
    assert all(r["status"] == "pass" and r["images_per_s"] > 0 and r["loss_curve"]
               for r in [*training["alone"].values(), *training["together"].values()])
    assert training["sharing"]["throughput_vs_alone"] > 0 and training["budget"]["epoch_s_shared_mean_T"] > 0


def _python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in state  # a zombie nobody reaped is dead too


def test_a_step_that_hangs_or_fails_is_recorded_and_the_next_one_still_runs(tmp_path):
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    grandchild = tmp_path / "grandchild.pid"
    hang = _python("import subprocess, sys, time\n"
                   f"p = subprocess.Popen(['sleep', '120']); open({str(grandchild)!r}, 'w').write(str(p.pid))\n"
                   "print('waiting on the kernel', flush=True); time.sleep(120)")
    fail = _python("import sys; print('loading'); sys.exit('CUDA error: an illegal memory access')")
    write = _python(f"import json; json.dump({{'figure': 1}}, open({str(out / '3_good.json')!r}, 'w'))")
    steps = [Step("hung", hang, 1.5, "1_hung.json"), Step("broken", fail, 30, "2_broken.json"),
             Step("good", write, 30, "3_good.json"), Step("gpu_only", _python("pass"), 30, "4_gpu_only.json",
                                                          skip="skipped: no CUDA")]
    lines: list[str] = []
    start = time.monotonic()
    summary = run_steps(steps, out, scratch, budget_s=120, env=check_environment(cpu_only=True), header={},
                        log=lines.append)
    assert time.monotonic() - start < 60
    records = {r["step"]: r for r in summary["steps"]}
    assert [r["status"] for r in records.values()] == ["timeout", "fail", "pass", "skipped: no CUDA"]
    assert records["hung"]["error"][-2:] == ["waiting on the kernel", "(killed after its box of 2 s)"]
    assert records["broken"]["error"][-1] == "CUDA error: an illegal memory access" and records["broken"]["exit_code"] == 1
    assert "error" not in records["good"] and records["good"]["seconds"] is not None
    assert json.loads((out / "3_good.json").read_text()) == {"figure": 1}  # what the step wrote stays
    assert json.loads((out / "1_hung.json").read_text())["status"] == "timeout"
    assert json.loads((out / "summary.json").read_text()) == summary and summary["finished"]
    assert len(lines) == 4 and "timeout" in lines[0]
    assert not _alive(int(grandchild.read_text())), "the hung step's children are killed with it"


def test_a_step_is_not_started_once_the_budget_is_spent(tmp_path):
    steps = [Step("slow", _python("import time; time.sleep(30)"), 30, "1_slow.json"),
             Step("next", _python("pass"), 30, "2_next.json")]
    summary = run_steps(steps, tmp_path / "out", tmp_path / "scratch", budget_s=1.5, min_step_s=1.0,
                        env=check_environment(cpu_only=True), header={}, log=lambda _: None)
    assert [r["status"] for r in summary["steps"]] == ["timeout", "skipped: out of time"]


def test_the_boxes_fit_the_budget_and_the_budget_fits_eight_minutes():
    assert list(BOXES) == list(STEPS)
    assert sum(BOXES.values()) <= BUDGET_S <= 8 * 60 - 10  # room for the install and the CUDA probe


@pytest.mark.parametrize("argv, message", [
    (["--only", "trainig", "--out", "NEW"], "unknown step 'trainig' (did you mean: training?)"),
    (["--dry-run"], "--out DIR is required"),
    (["prepare", "--out", "NEW"], "belong to the check, not to prepare"),
    (["--budget", "0", "--out", "NEW"], "--budget must be >= 1 second, but got 0"),
    (["--data", "missing.npz", "--out", "NEW"], "--data 'missing.npz' is not a file"),
])
def test_bad_options_are_one_line_and_exit_code_2(tmp_path, capsys, argv, message):
    refuse(main, [str(tmp_path / "new") if a == "NEW" else a for a in argv], capsys, tmp_path, message)


def test_a_used_output_folder_is_refused(tmp_path, capsys):
    (tmp_path / "summary.json").write_text("{}")
    refuse(main, ["--dry-run", "--out", str(tmp_path)], capsys, tmp_path, "already exists and is not empty")


def test_the_parser_offers_both_actions():
    args = build_parser().parse_args(["prepare"])
    assert args.action == "prepare" and build_parser().parse_args(["--out", "x"]).action == "check"


def test_junit_reports_give_the_exact_failures(tmp_path):
    (tmp_path / "test_sample.py").write_text(
        "import pytest\n"
        "def test_ok(): pass\n"
        "def test_bad(): assert 1 == 2, 'logits differ'\n"
        "def test_skip(): pytest.skip('needs CUDA')\n")
    report = tmp_path / "report.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                    str(tmp_path / "test_sample.py")], cwd=tmp_path, capture_output=True)
    result = read_junit(report)
    assert result["counts"] == dict(passed=1, failed=1, errors=0, skipped=1)
    (failure,) = result["failures"]
    assert failure["test"].endswith("test_sample::test_bad") and failure["kind"] == "failure"
    assert "logits differ" in failure["message"]


def test_the_fastest_fixed_mixer_comes_from_the_bf16_benchmark_file(tmp_path):
    path = tmp_path / "mixers.json"
    goals = {"train_vs_ssa": {"per_mixer": {"fft1d": 1.2, "dwt-haar": 1.4, "fft2d": 1.3}}}
    path.write_text(json.dumps({"geometries": {"spikformer-4-384": {"goals": goals}}}))
    assert fixed_mixer(str(path))[0] == "dwt-haar"
    path.write_text(json.dumps({"step": "mixers_bf16", "status": "timeout"}))
    assert fixed_mixer(str(path))[0] == FALLBACK_FIXED
    assert fixed_mixer(None)[0] == FALLBACK_FIXED


def test_a_partial_result_file_gives_an_empty_headline_not_an_error():
    assert headline("mixers_bf16", {"geometries": {"spikformer-4-384": {"mixers": {"ssa": {}}}}}) == "spikformer-4-384"
    assert headline("training", {"alone": {"ssa": {"status": "fail"}}}) == ""
    assert headline("neurons", {"probes": "not a list"}) == ""


def test_prepare_keeps_one_version_of_each_wheel(tmp_path):
    for name in ("spikingjelly-1.0.0-py3-none-any.whl", "spikingjelly-2.0.0-py3-none-any.whl",
                 "pytorch_wavelets-1.3.0-py3-none-any.whl", "ray-2.60.0-cp312-cp312-manylinux2014_x86_64.whl"):
        (tmp_path / name).write_bytes(b"")
    stale = remove_stale(tmp_path, ["spikingjelly==2.0.0", "pytorch-wavelets==1.3.0"])
    assert sorted(p.name for p in stale) == ["ray-2.60.0-cp312-cp312-manylinux2014_x86_64.whl",
                                             "spikingjelly-1.0.0-py3-none-any.whl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pytorch_wavelets-1.3.0-py3-none-any.whl",
                                                         "spikingjelly-2.0.0-py3-none-any.whl"]


def test_prepare_pins_the_versions_tested_here_and_prints_a_call_that_carries_them():
    from importlib.metadata import version

    assert f"spikingjelly=={version('spikingjelly')}" in pinned()
    call = device_call(450)
    assert 'carry=[".device"]' in call and "--no-index" in call and ".device/wheels/*.whl" in call
    assert "python3 -m benchmarks.gpu_check --out $OUT/gpu_check" in call and "timeout_s=540" in call
    assert not any(name in call for name in ("ray", "mlflow", "optuna"))


def test_the_check_environment_hides_the_gpu_in_a_dry_run_and_mlflow_always(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    env = check_environment(cpu_only=True)
    assert env["CUDA_VISIBLE_DEVICES"] == "" and "MLFLOW_TRACKING_URI" not in env
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(REPO)
