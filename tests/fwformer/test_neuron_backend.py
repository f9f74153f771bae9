"""The neuron backend selection: 'torch' on the CPU, and the exactness comparison that keeps a backend
whose spikes differ from the plain Torch path's from ever being chosen (a fake backend stands in for a
wrong kernel: the GPU check exercises the real ones on CUDA)."""
from contextlib import contextmanager

import pytest
import torch

from fwformer.config import load_config
from fwformer.layers import (AUTO, BACKENDS, Probe, available_backends, backend_candidate, fastest_exact, is_neuron,
                             neuron_backend, probe, probe_input, probe_neuron_backends, select_neuron_backend,
                             use_neuron_backend)
from fwformer.model import build_model

@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tensors this small gain nothing from threads, and two on a busy 2-core machine run 100x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(load_config("tiny"))


@pytest.fixture(scope="module")
def x():
    return probe_input((4, 1, 8, 8), "cpu")


@contextmanager
def thresholds_scaled(model, factor):
    """A wrong kernel: every neuron fires at a different threshold."""
    neurons = [m for m in model.modules() if is_neuron(m)]
    saved = [n.v_threshold for n in neurons]
    for n in neurons:
        n.v_threshold = n.v_threshold * factor
    try:
        yield model
    finally:
        for n, v in zip(neurons, saved):
            n.v_threshold = v


def test_the_cpu_selects_the_torch_path_without_probing(model, x):
    assert select_neuron_backend(model, x) == "torch"
    assert available_backends(x.device) == {"torch": None, "triton": "needs CUDA", "cuda": "needs CUDA"}


def test_on_the_cpu_only_the_torch_path_is_probed_and_the_rest_say_why(model, x):
    probes = probe_neuron_backends(model, x, repeats=1)
    assert [(p.name, p.exact) for p in probes] == [("torch", True), ("triton", False), ("cuda", False)]
    assert probes[0].train_ms > 0 and probes[1].error == "needs CUDA"


def test_a_backend_whose_spikes_differ_is_rejected_however_fast(model, x):
    probes = probe(model, x, {"torch": backend_candidate("torch"),
                              "fake": lambda m: thresholds_scaled(m, 0.5),
                              "twin": backend_candidate("torch")}, time_it=False)
    reference, fake, twin = probes
    assert reference.exact and twin.exact and twin.spikes_differing == 0 and twin.logits_max_abs_diff == 0.0
    assert not fake.exact and fake.spikes_differing > 0
    assert "spikes differ (first:" in fake.why and "of neuron 'sps." in fake.why
    fake.train_ms, reference.train_ms, twin.train_ms = 0.001, 5.0, 4.0
    assert fastest_exact(probes).name == "twin"


def test_a_candidate_that_fails_is_recorded_and_the_others_still_run(model, x):
    @contextmanager
    def broken(m):
        raise RuntimeError("no kernel for this GPU")
        yield m  # pragma: no cover

    probes = probe(model, x, {"torch": backend_candidate("torch"), "broken": broken,
                              "twin": backend_candidate("torch")}, time_it=False)
    assert [p.name for p in probes] == ["torch", "broken", "twin"]
    assert probes[1].error == "RuntimeError: no kernel for this GPU" and not probes[1].exact
    assert probes[2].exact


def test_with_amp_a_backend_that_refuses_bf16_is_not_chosen_however_fast(model, x):
    """spikingjelly refuses bf16 neuron state once a backend is bound; a bf16 training must not get one."""

    @contextmanager
    def refuses_bf16(m):
        def run(inputs):
            if torch.is_autocast_enabled(inputs.device.type):
                raise RuntimeError("SJ_LIF_CUDA_IMPLEMENTATION='triton' cannot run this execution profile")
            return m(inputs)

        yield run

    probes = probe(model, x, {"torch": backend_candidate("torch"), "bound": refuses_bf16,
                              AUTO: backend_candidate(AUTO)}, repeats=1, warmup=0, amp=True)
    reference, bound, auto = probes
    assert bound.exact and not bound.usable and "cannot run this execution profile" in bound.amp_error
    assert auto.usable and auto.amp_error == ""
    bound.train_ms, auto.train_ms, reference.train_ms = 0.001, 5.0, 4.0
    assert fastest_exact(probes).name == "torch"
    reference.amp_error = bound.amp_error  # the reference refused too: spikingjelly's own choice is left
    assert fastest_exact(probes).name == AUTO


def test_fastest_exact_falls_back_to_the_reference_when_nothing_is_timed():
    probes = [Probe("torch", exact=True), Probe("triton", exact=False, why="unavailable")]
    assert fastest_exact(probes).name == "torch"
    probes = [Probe("torch", exact=True, train_ms=3.0), Probe("triton", exact=False, train_ms=1.0)]
    assert fastest_exact(probes).name == "torch"


def test_probing_leaves_the_model_as_it_found_it(model, x):
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    probe(model, x, {"torch": backend_candidate("torch")}, repeats=2, warmup=1)
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    model.train()


def test_binding_rejects_unknown_names_and_the_block_restores_the_previous_choice():
    from spikingjelly._ops.lif import _selection

    with pytest.raises(ValueError, match="unknown neuron backend 'cupy'; expected one of: torch, triton, cuda, auto"):
        use_neuron_backend("cupy")
    before = _selection._requested
    with neuron_backend("triton"):
        assert _selection._requested == "triton"
    assert _selection._requested == before
    assert BACKENDS[0] == "torch"
    use_neuron_backend(AUTO)
    assert _selection._requested == "auto"


def test_the_probe_input_is_fixed_and_leaves_the_global_random_stream_alone():
    torch.manual_seed(3)
    expected = torch.rand(1)
    torch.manual_seed(3)
    a = probe_input((2, 3), "cpu")
    assert torch.equal(torch.rand(1), expected)
    assert torch.equal(a, probe_input((2, 3), "cpu"))
    frames = probe_input((2, 1, 2, 4, 4), "cpu", event=True)
    assert set(frames.unique().tolist()) <= {0.0, 1.0}
