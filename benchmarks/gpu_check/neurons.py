"""The check's neuron step: which LIF implementation to train with, and what `torch.compile` adds
(`python -m benchmarks.gpu_check.neurons --json FILE [--tiny]`).

On the Spikformer-4-384 model in fp32, at the training batch, on one fixed input
(`fwformer.layers.backend`): every backend spikingjelly offers here against the Torch path (spikes
equal, logits within fp32 tolerance, training-step time), the one `select_neuron_backend` picks, the
one spikingjelly would pick by itself, which of them still run a training step under bf16 autocast
(as the trainings do) and the dtype the neurons receive there, then `torch.compile` of the model on the selected backend
against its own Torch reference, in a child process killed when it outruns what is left of the box.
The file is written after each part. `--tiny`: the tiny model on the CPU, where only the Torch path
exists and compiling is skipped.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any, Optional

from benchmarks.gpu_check.files import REPO, read_json, tail, write_json
from benchmarks.gpu_check.plan import BOXES, box_seconds

#: Below this many seconds left, compiling is not tried (it takes most of a minute on a 4-block model).
MIN_COMPILE_S = 20
#: spikingjelly 2.0 dropped the CuPy backend of its 0.0.0.0.x releases.
NOT_OFFERED = {"cupy": "spikingjelly 2.0.0 has no CuPy backend: its neurons run on Torch, Triton or native CUDA"}


def build(tiny: bool, batch: Optional[int]):
    """(model, fixed input, record fields) on CUDA when there is one and not `tiny`; the same every call."""
    import torch

    from fwformer.config import load_config
    from fwformer.layers import probe_input
    from fwformer.model import build_model

    cuda = torch.cuda.is_available() and not tiny
    device = torch.device("cuda" if cuda else "cpu")
    if tiny:
        torch.set_num_threads(1)  # as the tiny preset trains: threads only contend at this size
    preset = "tiny" if tiny else "spikformer-4-384"
    cfg = load_config(preset)
    batch = batch or (4 if tiny else cfg.train.batch_size)
    torch.manual_seed(0)
    model = build_model(cfg).to(device)
    x = probe_input((batch, cfg.in_channels, cfg.img_size, cfg.img_size), device)
    fields = dict(device=device.type, gpu=torch.cuda.get_device_name(device) if cuda else None,
                  torch=torch.__version__, spikingjelly=version("spikingjelly"), model=preset, batch=batch,
                  input=list(x.shape), precision="fp32")
    return model, x, fields


def compile_child(backend: str, batch: Optional[int], json_path: str) -> int:
    """In a process of its own, so a compile that outruns the box can be killed: `torch.compile` of the
    model on `backend` against the Torch path."""
    from fwformer.layers import backend_candidate, compiled_candidate, probe

    model, x, _ = build(False, batch)
    reference, compiled = probe(model, x, {"torch": backend_candidate("torch"),
                                           f"compile+{backend}": compiled_candidate(backend)}, repeats=5)
    write_json(json_path, dict(reference=reference.as_dict(), compile=compiled.as_dict()))
    return 0


def run_compile(backend: str, batch: int, seconds: float) -> dict[str, Any]:
    """`compile_child` within `seconds`: its probe, or why there is none."""
    if seconds < MIN_COMPILE_S:
        return dict(name=f"compile+{backend}", status=f"skipped: {seconds:.0f} s left in the box")
    part = Path(tempfile.mkdtemp(prefix="gpu_check_compile_")) / "compile.json"
    command = [sys.executable, "-m", "benchmarks.gpu_check.neurons", "--compile-child", backend, "--batch", str(batch),
               "--json", str(part)]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=seconds)
        status = "pass" if proc.returncode == 0 else "fail"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        status = f"timeout after {seconds:.0f} s (compiling the training step)"
    result = read_json(part)
    if result is None:
        return dict(name=f"compile+{backend}", status=status, last_lines=tail(output or ""))
    return dict(result["compile"], status=status, reference_train_ms=result["reference"]["train_ms"])


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check.neurons", description=__doc__.split("\n")[0])
    p.add_argument("--json", required=True, help="where the step's record goes")
    p.add_argument("--tiny", action="store_true", help="the tiny model on the CPU (the dry run)")
    p.add_argument("--batch", type=int, default=None, help="input batch (default: 128, the training batch; --tiny 4)")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument("--compile-child", default=None, metavar="BACKEND", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.compile_child:
        return compile_child(args.compile_child, args.batch, args.json)
    deadline = time.monotonic() + box_seconds(BOXES["neurons"]) - 3

    from fwformer.layers import BACKENDS, fastest_exact, probe_neuron_backends

    model, x, fields = build(args.tiny, args.batch)
    record: dict[str, Any] = dict(
        step="neurons", **fields, backends=list(BACKENDS), not_offered=NOT_OFFERED,
        criterion="every neuron's spikes equal the Torch path's, logits within rtol 1e-5 / atol 1e-5, and on "
                  "CUDA a training step under bf16 autocast runs (amp_error empty); the fastest training step "
                  "(forward, cross-entropy, backward, fp32) among those",
    )
    cuda = fields["device"] == "cuda"
    if cuda:
        from spikingjelly.activation_based.functional import neuron_implementation

        record["spikingjelly_own_choice"] = neuron_implementation("lif", x.device)["implementation"]

    # amp: the trainings run under bf16 autocast, where a bound backend may refuse to run at all.
    probes = probe_neuron_backends(model, x, amp=cuda)
    chosen = fastest_exact(probes)
    if cuda:
        record["lif_input_dtypes_under_bf16"] = lif_input_dtypes(model, x)
    record.update(probes=[pr.as_dict() for pr in probes], selected=chosen.name, speedup_vs_torch=speedups(probes),
                  recommended=chosen.name)
    write_json(args.json, record)

    if not cuda or args.no_compile:
        record["compile"] = "skipped: no CUDA" if not cuda else "skipped: --no-compile"
    else:
        import torch

        del model  # the child needs the GPU's memory more
        torch.cuda.empty_cache()
        compiled = run_compile(chosen.name, fields["batch"], deadline - time.monotonic())
        record["compile"] = compiled
        if compiled.get("train_ms"):
            # Against the child's own Torch reference: the two processes' clocks are not compared.
            record["speedup_vs_torch"][compiled["name"]] = ratio(compiled["reference_train_ms"], compiled["train_ms"])
            gains = record["speedup_vs_torch"]
            if compiled["exact"] and (gains[compiled["name"]] or 0) > (gains.get(chosen.name) or 0):
                record["recommended"] = compiled["name"]
    write_json(args.json, record)
    print(f"selected {chosen.name}; recommended {record['recommended']}; speed-ups vs torch "
          + ", ".join(f"{k} x{v:.2f}" for k, v in record["speedup_vs_torch"].items() if v), flush=True)
    return 0


def lif_input_dtypes(model, x) -> dict[str, int]:
    """How many neuron calls get which input dtype in a forward under bf16 autocast: spikingjelly's
    kernels take fp32 state only, and a neuron's state takes its input's dtype."""
    import torch

    from fwformer.layers import fresh_state, is_neuron

    seen: dict[str, int] = {}

    def count(_module, inputs):
        key = str(inputs[0].dtype)
        seen[key] = seen.get(key, 0) + 1

    hooks = [m.register_forward_pre_hook(count) for m in model.modules() if is_neuron(m)]
    try:
        with torch.no_grad(), torch.autocast(x.device.type, dtype=torch.bfloat16), fresh_state(model):
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def ratio(reference_ms: Optional[float], ms: Optional[float]) -> Optional[float]:
    return reference_ms / ms if reference_ms and ms else None


def speedups(probes: list) -> dict[str, Optional[float]]:
    """Each probe's training step against the Torch path's (the first probe): >1 is faster."""
    return {pr.name: ratio(probes[0].train_ms, pr.train_ms) for pr in probes}


if __name__ == "__main__":
    sys.exit(main())
