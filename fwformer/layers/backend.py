"""Which implementation runs the LIF neurons: the fastest one that computes exactly what the plain
Torch path computes.

spikingjelly 2.0 runs its multi-step LIF through one registered operator with three implementations on
CUDA, `BACKENDS`: `torch` (the Torch reference, the plain path), `triton` (Triton kernels, shipped in its
pure-Python wheel) and `cuda` (native kernels, only in a source build with `SJ_BUILD_NATIVE_CUDA=1`).
It has no CuPy backend any more and no `backend=` argument; the CPU always runs the Torch reference. Its
own choice on CUDA (`AUTO`) is cuda > triton > torch, fixed per process by `$SJ_LIF_CUDA_IMPLEMENTATION`.

Those kernels take fp32 membrane state only. Under bf16 autocast a LIF's input is bf16, so is its
state, and spikingjelly runs its Torch reference instead, whatever the choice; but it refuses to
(RuntimeError) once anything but `AUTO` is bound. A choice for a bf16 training is therefore checked
there too (`amp=True`), and `AUTO` is always a candidate.

`select_neuron_backend(model, x)` probes each available implementation on a fixed input, in fp32:
every neuron's spikes must equal the Torch path's exactly and the logits agree within fp32 tolerance;
of those that do (and, with `amp`, also run a training step under bf16 autocast), the one whose
training step (forward and backward) is fastest wins. On the CPU it returns 'torch' without probing.
`use_neuron_backend(name)` binds the choice for the process. `probe` is the measurement underneath,
for any candidates: a backend, `torch.compile` of the model on a backend (`compiled_candidate`), or a
test's fake.

Only `LIFNode` goes through that operator; neurons written as Python equations (`SignedIFNode`) run
the same Torch code whatever is bound.
"""
from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Callable, ContextManager, Iterator, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn

from fwformer.layers.neurons import fresh_state, is_neuron, reset_state

__all__ = ["AUTO", "BACKENDS", "Candidate", "Probe", "available_backends", "backend_candidate", "compiled_candidate",
           "fastest_exact", "neuron_backend", "probe", "probe_input", "probe_neuron_backends",
           "select_neuron_backend", "use_neuron_backend"]

#: spikingjelly's implementations of the LIF operator; `torch` is the plain path every other is held to.
BACKENDS = ("torch", "triton", "cuda")
#: spikingjelly's own choice, bound to nothing: the only one it runs bf16 neuron state under.
AUTO = "auto"
REFERENCE = "torch"
#: How far the logits of an exact backend may be from the plain path's (fp32; the spikes must be equal).
RTOL, ATOL = 1e-5, 1e-5

#: A candidate, given the model, binds whatever it stands for and yields what to call on the input.
Candidate = Callable[[nn.Module], ContextManager[Callable[[torch.Tensor], torch.Tensor]]]


def _check_name(name: str) -> None:
    if name not in (*BACKENDS, AUTO):
        raise ValueError(f"unknown neuron backend {name!r}; expected one of: {', '.join((*BACKENDS, AUTO))}")


def _lif_selection():
    # spikingjelly 2.0.0 (pinned in pyproject.toml) keeps the LIF operator's CUDA choice in this object;
    # its one public switch, $SJ_LIF_CUDA_IMPLEMENTATION, is read once at import, so rebinding within a
    # process sets the same field the variable sets and drops the cached choice.
    from spikingjelly._ops.lif import _selection

    return _selection


def _bind(requested: str) -> None:
    selection = _lif_selection()
    selection._requested = requested
    selection._selections.clear()
    selection._compiled_selections.clear()


def use_neuron_backend(name: str) -> None:
    """Run every LIF neuron of this process on `name` (one of `BACKENDS`, or `AUTO`: spikingjelly's own
    choice) from its next call on CUDA."""
    _check_name(name)
    _bind(name)


@contextmanager
def neuron_backend(name: str) -> Iterator[None]:
    """`use_neuron_backend(name)` inside the block; whatever was bound before, after it."""
    _check_name(name)
    before = _lif_selection()._requested
    _bind(name)
    try:
        yield
    finally:
        _bind(before)


def available_backends(device: torch.device) -> dict[str, Optional[str]]:
    """For each of `BACKENDS`: None when it can run on `device`, else why not."""
    if device.type != "cuda":
        return {name: None if name == REFERENCE else "needs CUDA" for name in BACKENDS}
    from spikingjelly.activation_based.functional import neuron_implementation

    out: dict[str, Optional[str]] = {}
    for name in BACKENDS:
        with neuron_backend(name):
            try:
                neuron_implementation("lif", device)
                out[name] = None
            except (ImportError, OSError, RuntimeError) as err:
                out[name] = f"{type(err).__name__}: {err}"
    return out


def backend_candidate(name: str) -> Candidate:
    """The model as it is, its neurons on backend `name`."""
    _check_name(name)

    @contextmanager
    def run(model: nn.Module) -> Iterator[Callable[[torch.Tensor], torch.Tensor]]:
        with neuron_backend(name):
            yield model

    return run


def compiled_candidate(name: str, **compile_options) -> Candidate:
    """`torch.compile(model)` with its neurons on backend `name`."""
    _check_name(name)

    @contextmanager
    def run(model: nn.Module) -> Iterator[Callable[[torch.Tensor], torch.Tensor]]:
        with neuron_backend(name):
            yield torch.compile(model, **compile_options)

    return run


@dataclass
class Probe:
    """One candidate against the reference (the first candidate probed)."""

    name: str
    exact: bool  # every neuron's spikes equal and the logits within RTOL/ATOL
    why: str = ""  # what differed, or why it could not run; '' when exact
    spikes_differing: int = 0  # spike elements that differ from the reference's, over every neuron
    logits_max_abs_diff: Optional[float] = None
    grads_max_abs_diff: Optional[float] = None  # information only: surrogate gradients may round differently
    train_ms: Optional[float] = None  # median time of one training step (forward, loss, backward)
    error: str = ""  # the exception when it could not run
    amp_error: str = ""  # the exception of a training step under bf16 autocast, when `amp` was checked

    @property
    def usable(self) -> bool:
        return self.exact and not self.error and not self.amp_error

    def as_dict(self) -> dict:
        return dict(asdict(self), usable=self.usable)


@dataclass
class _Outputs:
    logits: torch.Tensor
    spikes: list[tuple[str, torch.Tensor]]  # (neuron name, its output) in call order
    grads: list[torch.Tensor]


@contextmanager
def _deterministic() -> Iterator[None]:
    """cuDNN's deterministic algorithms: two runs of the same path must agree bit for bit, or the
    comparison would blame a neuron backend for a convolution's choice of algorithm."""
    saved = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


@contextmanager
def _untouched(model: nn.Module) -> Iterator[None]:
    """Whatever the probe does to the model (BN statistics, gradients, mode, neuron state) is undone."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    grads = [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()]
    training = model.training
    try:
        yield
    finally:
        model.load_state_dict(state)
        for p, g in zip(model.parameters(), grads):
            p.grad = g
        model.train(training)
        reset_state(model)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _training_step(model: nn.Module, run: Callable, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    with fresh_state(model):
        logits = run(x)
        F.cross_entropy(logits.float(), labels).backward()
    return logits


def _outputs(model: nn.Module, run: Callable, x: torch.Tensor, labels: torch.Tensor,
             state: dict[str, torch.Tensor]) -> _Outputs:
    """Logits, every neuron's spikes and the gradients of one training step from `state`."""
    model.load_state_dict(state)  # the same BN statistics for every candidate
    model.train()
    model.zero_grad(set_to_none=True)
    spikes: list[tuple[str, torch.Tensor]] = []
    hooks = [module.register_forward_hook(lambda _m, _i, out, name=name: spikes.append((name, out.detach().clone())))
             for name, module in model.named_modules() if is_neuron(module)]
    try:
        logits = _training_step(model, run, x, labels).detach().clone()
    finally:
        for hook in hooks:
            hook.remove()
    grads = [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    return _Outputs(logits, spikes, grads)


def _compare(name: str, ref: _Outputs, out: _Outputs) -> Probe:
    differing, first = 0, ""
    if [n for n, _ in out.spikes] != [n for n, _ in ref.spikes]:
        return Probe(name, exact=False, why="its neurons were not called as the reference's were")
    for (neuron, a), (_, b) in zip(ref.spikes, out.spikes):
        if a.shape != b.shape or a.dtype != b.dtype:
            return Probe(name, exact=False, why=f"neuron '{neuron}' gave {tuple(b.shape)} {b.dtype}, "
                                                f"the reference {tuple(a.shape)} {a.dtype}")
        n = int((a != b).sum())
        if n and not first:
            first = f"{n} of {a.numel()} spikes of neuron '{neuron}'"
        differing += n
    logit_diff = float((out.logits.float() - ref.logits.float()).abs().max())
    grad_diff = max((float((a - b).abs().max()) for a, b in zip(ref.grads, out.grads) if a.numel()), default=0.0)
    close = torch.allclose(out.logits.float(), ref.logits.float(), rtol=RTOL, atol=ATOL)
    why = []
    if differing:
        why.append(f"{differing} spikes differ (first: {first})")
    if not close:
        why.append(f"logits differ by up to {logit_diff:.3g} (allowed: rtol {RTOL}, atol {ATOL})")
    return Probe(name, exact=not why, why="; ".join(why), spikes_differing=differing,
                 logits_max_abs_diff=logit_diff, grads_max_abs_diff=grad_diff)


def _median_ms(step: Callable[[], object], device: torch.device, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def probe(model: nn.Module, x: torch.Tensor, candidates: Mapping[str, Candidate], *, repeats: int = 5,
          warmup: int = 2, time_it: bool = True, amp: bool = False) -> list[Probe]:
    """Each candidate's spikes, logits and gradients on `x` against the first candidate's, then the
    median time of its training step. Runs in fp32 (no autocast) with cuDNN deterministic, in
    training mode from one saved state, so the only difference left between two candidates is theirs;
    the reference is run twice and, should it disagree with itself, every verdict says so. A candidate
    that raises is recorded with its error. `amp`: each one also runs a training step under bf16
    autocast, as training does, and what it raises there is its `amp_error`. The model is left as it
    was found."""
    if not candidates:
        raise ValueError("probe needs at least one candidate, the reference first")
    batch = x.shape[1] if x.dim() == 5 else x.shape[0]  # frames [T, B, C, H, W] or images [B, C, H, W]
    labels = torch.arange(batch, device=x.device) % _classes(model)
    probes: list[Probe] = []
    with _untouched(model), _deterministic(), torch.autocast(x.device.type, enabled=False):
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        reference: Optional[_Outputs] = None
        unsteady = ""
        for name, candidate in candidates.items():
            try:
                with candidate(model) as run:
                    out = _outputs(model, run, x, labels, state)
                    if reference is None:
                        reference = out
                        again = _compare(name, out, _outputs(model, run, x, labels, state))
                        unsteady = "" if again.exact else f"the reference disagrees with itself ({again.why})"
                        result = Probe(name, exact=not unsteady, why=unsteady, logits_max_abs_diff=0.0,
                                       grads_max_abs_diff=0.0)
                    else:
                        result = _compare(name, reference, out)
                        if unsteady:
                            result.exact = False
                            result.why = "; ".join(filter(None, [result.why, unsteady]))
                    if time_it:
                        model.train()
                        result.train_ms = _median_ms(lambda: _training_step(model, run, x, labels), x.device,
                                                     repeats, warmup)
                        model.zero_grad(set_to_none=True)
                    if amp:
                        result.amp_error = _amp_error(model, run, x, labels)
            except Exception as err:  # noqa: BLE001 - one candidate's failure is its verdict, not the probe's
                if reference is None:
                    raise  # without the reference there is nothing to compare against
                result = Probe(name, exact=False, why="it failed to run", error=f"{type(err).__name__}: {err}")
            probes.append(result)
    return probes


def _amp_error(model: nn.Module, run: Callable, x: torch.Tensor, labels: torch.Tensor) -> str:
    try:
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            _training_step(model, run, x, labels)
    except Exception as err:  # noqa: BLE001 - what it raises is the verdict
        return f"{type(err).__name__}: {err}"
    finally:
        model.zero_grad(set_to_none=True)
    return ""


def _classes(model: nn.Module) -> int:
    head = getattr(model, "head", None)
    return head.out_features if isinstance(head, nn.Linear) else 2


def fastest_exact(probes: list[Probe]) -> Probe:
    """The usable probe (exact, and running under bf16 where that was checked) with the fastest
    training step; else `AUTO`'s when it was probed, else the first (the reference)."""
    timed = [p for p in probes if p.usable and p.train_ms is not None]
    if timed:
        return min(timed, key=lambda p: p.train_ms)
    return next((p for p in probes if p.name == AUTO), probes[0])


def probe_neuron_backends(model: nn.Module, x: torch.Tensor, *, repeats: int = 5, amp: bool = False) -> list[Probe]:
    """`probe` over every backend of `BACKENDS` on `x`'s device, the Torch path first, then on CUDA
    spikingjelly's own choice (`AUTO`); the ones that cannot run there are listed with the reason."""
    available = available_backends(x.device)
    runnable = {name: backend_candidate(name) for name in BACKENDS if available[name] is None}
    if x.device.type == "cuda":
        runnable[AUTO] = backend_candidate(AUTO)
    probes = probe(model, x, runnable, repeats=repeats, amp=amp)
    return probes + [Probe(name, exact=False, why="unavailable", error=reason)
                     for name, reason in available.items() if reason is not None]


def select_neuron_backend(model: nn.Module, x: torch.Tensor, *, amp: bool = False, repeats: int = 5) -> str:
    """The fastest backend whose spikes and logits equal the Torch path's on `x` (see the module
    docstring) and, with `amp` (a bf16 training), that runs under bf16 autocast; 'torch' on the CPU,
    where spikingjelly has no other."""
    if x.device.type != "cuda":
        return REFERENCE
    return fastest_exact(probe_neuron_backends(model, x, repeats=repeats, amp=amp)).name


def probe_input(shape: tuple[int, ...], device: torch.device | str, *, event: bool = False,
                seed: int = 0) -> torch.Tensor:
    """A fixed input of `shape`, the same on every call and left out of the global random stream:
    normalised-image noise, or sparse 0/1 event frames (`event`)."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(shape, generator=g) < 0.05).float() if event else torch.randn(shape, generator=g)
    return x.to(device)
