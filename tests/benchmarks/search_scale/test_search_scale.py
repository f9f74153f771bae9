"""benchmarks.search_scale: the replay of a search on cached curves charges what the search would.

The curves are synthetic (a fixed function of the architecture), so the replay's bookkeeping is
checked without training: what an early-stopping rule stops and what it is charged, that a partial
curve is trained again when a strategy needs the whole run, and the summary's 95% point."""
from __future__ import annotations

import zlib

import pytest

EPOCHS = 6
KEYS: dict = {}  # the canonical keys of the choices met, shared by every test's cache (a key takes a config build)


@pytest.fixture(scope="module")
def study():
    from benchmarks.search_scale.study import scale_study

    return scale_study("digits", trials=24)


def synthetic_cache(study):
    from benchmarks.common import CurveCache
    from benchmarks.search_scale import strategies

    class Synthetic(CurveCache):
        """Each epoch costs 1 CPU-second, the final measurement 0.5; accuracy rises to a level
        that is a fixed function of the architecture."""

        def __init__(self):
            super().__init__(study, None, print)
            self.trainings = []
            self._keys = KEYS

        def _train(self, cfg, params, stop):
            key = self.study.space.canonical_key(cfg)
            self.trainings.append((key, stop is not None))
            level = 0.5 + (zlib.crc32(key.encode()) % 1000) / 2000
            row = dict(mixers=list(cfg.block_mixers), T=cfg.T, params=dict(params), energy_bound_mj=strategies.row_bound(self, params), failed=False, epochs=[])
            for epoch in range(1, EPOCHS + 1):
                metrics = dict(epoch=epoch, val_acc=level * epoch / EPOCHS, cpu_s=float(epoch))
                row["epochs"].append(metrics)
                if stop is not None and stop(metrics):
                    return dict(row, complete=False, cpu_s=float(epoch))
            return dict(row, complete=True, val_acc=level, energy_mj=row["energy_bound_mj"] / 10,
                        cpu_s=EPOCHS + 0.5)

    return Synthetic()


def test_the_baseline_trains_every_trial_to_the_end(study):
    from benchmarks.search_scale.strategies import per_trial

    run = per_trial(study, synthetic_cache(study), seed=0, rule=None, log=print)
    assert len(run["events"]) == 24 and {e["state"] for e in run["events"]} == {"COMPLETE"}
    assert run["events"][-1]["cpu_s"] == pytest.approx(24 * (EPOCHS + 0.5))


def test_the_energy_rule_stops_only_dominated_trials_and_charges_their_epochs(study):
    from benchmarks.search_scale.strategies import per_trial
    from benchmarks.search_scale.study import EARLY_STOP

    cache = synthetic_cache(study)
    run = per_trial(study, cache, seed=0, rule="energy", log=print)
    events = run["events"]
    stopped = [e for e in events if e["state"] == "PRUNED"]
    assert stopped, "the synthetic curves give the rule trials to stop"
    spent, rows = 0.0, {k: r for k, r in cache.results.items()}
    for i, e in enumerate(events):
        row = rows[e["key"]]
        spent += e["stopped_at"] if e["state"] == "PRUNED" else EPOCHS + 0.5
        assert e["cpu_s"] == pytest.approx(spent)
        if e["state"] != "PRUNED":
            continue
        epoch = e["stopped_at"]
        assert EARLY_STOP["grace_epochs"] <= epoch < EPOCHS and e["values"] is None
        # Below the median of the earlier trials that cost no more, at the same epoch.
        acc = row["epochs"][epoch - 1]["val_acc"]
        rivals = [rows[p["key"]]["epochs"][epoch - 1]["val_acc"] for p in events[:i]
                  if rows[p["key"]]["energy_bound_mj"] <= row["energy_bound_mj"] and len(rows[p["key"]]["epochs"]) >= epoch]
        assert len(rivals) >= EARLY_STOP["min_trials"] and acc < sorted(rivals)[len(rivals) // 2]


def test_a_grace_override_moves_the_first_verdict(study):
    from benchmarks.search_scale.study import EARLY_STOP
    from benchmarks.search_scale.strategies import per_trial

    cache = synthetic_cache(study)
    study_grace = {e["stopped_at"] for e in per_trial(study, cache, seed=0, rule="energy", log=print)["events"]}
    early = per_trial(study, cache, seed=0, rule="energy", log=print, name="g1", grace_epochs=1)
    assert early["strategy"] == "g1" and min(study_grace - {None}) == EARLY_STOP["grace_epochs"] > 1
    assert 1 in {e["stopped_at"] for e in early["events"]}


def test_each_one_shot_row_gets_the_tau_of_its_own_supernet(study):
    from benchmarks.search_scale import summary
    from benchmarks.search_scale.strategies import per_trial

    cache = synthetic_cache(study)
    base = dict(per_trial(study, cache, seed=0, rule=None, log=print), dataset="digits")
    front = [e for e in base["events"] if e["values"]][:4]
    shot = [dict(e, inherited=[a, 0.0]) for e, a in zip(front, (0.1, 0.2, 0.3, 0.4))]
    runs = [base] + [dict(strategy=n, seed=0, dataset="digits", events=shot) for n in ("supernet", "supernet-e48")]
    pairs = [dict(key=str(i), inherited=[i, 0.0], standalone=[i, 0.0]) for i in range(5)]
    fidelity = {("digits", 0, 24): pairs, ("digits", 0, 48): [dict(p, standalone=[-p["standalone"][0], 0.0]) for p in pairs]}
    rows = summary.rows(runs, list(cache.results.values()), fidelity, {"supernet": 24, "supernet-e48": 48})
    assert "kendall_tau_random" not in rows[0]
    assert [r["kendall_tau_random"]["tau"] for r in rows[1:]] == [pytest.approx(1.0), pytest.approx(-1.0)]


def test_a_partial_curve_is_trained_again_when_the_whole_run_is_needed(study):
    from benchmarks.search_scale.strategies import per_trial

    cache = synthetic_cache(study)
    per_trial(study, cache, seed=0, rule="median", log=print)
    partial = {k for k, r in cache.results.items() if not r["complete"]}
    assert partial
    cache.trainings.clear()
    baseline = {e["key"] for e in per_trial(study, cache, seed=0, rule=None, log=print)["events"]}
    retrained = {k for k, under_rule in cache.trainings if not under_rule}
    # The two runs propose the same trials up to the first stopped one, so the sets meet.
    assert partial & baseline and partial & baseline <= retrained
    assert all(cache.results[k]["complete"] for k in baseline)


def test_the_median_rule_stops_cheap_trials_the_energy_rule_keeps(study):
    from benchmarks.search_scale.strategies import per_trial

    cache = synthetic_cache(study)
    energy = per_trial(study, cache, seed=0, rule="energy", log=print)
    median = per_trial(study, cache, seed=0, rule="median", log=print)
    assert sum(e["state"] == "PRUNED" for e in median["events"]) > sum(e["state"] == "PRUNED" for e in energy["events"])


def test_summary_rows_reach_95_percent_where_the_curve_does(study):
    from benchmarks.search_scale import summary
    from benchmarks.search_scale.strategies import per_trial

    cache = synthetic_cache(study)
    runs = [dict(per_trial(study, cache, seed=0, rule=r, log=print), dataset="digits") for r in (None, "energy")]
    # Every row, partial curves of stopped trials included: they have no final val_acc to range over.
    rows = summary.rows(runs, list(cache.results.values()), {}, {})
    base, stop = rows
    assert base["strategy"] == "tpe" and base["hypervolume"] == base["baseline_hypervolume"] > 0
    assert base["compute_to_95_s"] == base["baseline_compute_to_95_s"] <= base["compute_s"]
    hv = dict(summary.curve(runs[0]["events"], base["reference"]))
    assert hv[base["compute_to_95_s"]] >= 0.95 * base["hypervolume"]
    assert stop["compute_s"] < base["compute_s"]
    assert (stop["compute_to_95_s"] is None) == (stop["hypervolume"] < 0.95 * base["hypervolume"])


def test_the_range_reference_is_the_baselines_and_the_random_architectures_only():
    """A strategy's confirmed architecture below everything the baseline and the random draw measured
    does not move the reference the other strategies' hypervolumes are taken at."""
    from benchmarks.search_scale import summary

    runs = [dict(strategy="tpe", seed=0, events=[dict(key="a"), dict(key=None)]),
            dict(strategy="supernet-x", seed=0, events=[dict(key="worse")])]
    fidelity = {("digits", 0, 24): [dict(key="r")], ("cifar", 0, 24): [dict(key="elsewhere")]}
    keys = summary.reference_keys(runs, fidelity, "digits")
    assert keys == {"a", "r"}
    # A seed added after the reference was fixed (digits: seeds 0 and 1) does not move it; elsewhere every seed counts.
    later = [*runs, dict(strategy="tpe", seed=2, events=[dict(key="later")])]
    later_fidelity = {**fidelity, ("digits", 2, 24): [dict(key="later-r")], ("cifar", 2, 24): [dict(key="c2")]}
    assert summary.REFERENCE_SEEDS["digits"] == (0, 1)
    assert summary.reference_keys(later, later_fidelity, "digits") == {"a", "r"}
    assert summary.reference_keys(later, later_fidelity, "cifar") == {"a", "later", "elsewhere", "c2"}
    results = {"a": dict(val_acc=0.9, energy_mj=1.0, failed=False), "r": dict(val_acc=0.8, energy_mj=3.0, failed=False),
               "worse": dict(val_acc=0.1, energy_mj=9.0, failed=False)}
    assert summary.range_reference([results[k] for k in keys]) == [0.8, 3.0]


def test_confirmation_rounds_correct_the_scores_with_what_was_measured():
    from benchmarks.search_scale.strategies import corrected

    # Stand-alone accuracy = 0.1 + 0.8 x inherited + 0.05 log2 T; energy twice the inherited.
    pool = [({"T": t}, [a, e]) for a, e, t in [(0.5, 1.0, 1), (0.6, 2.0, 2), (0.7, 1.5, 1), (0.8, 3.0, 4), (0.9, 1.0, 2)]]
    truth = [[0.1 + 0.8 * a + 0.05 * {1: 0, 2: 1, 4: 2}[p["T"]], 2 * e] for p, (a, e) in pool]
    assert corrected(pool, {}) == [list(v) for _, v in pool]
    shifted = corrected(pool, {0: truth[0]})
    assert shifted[0] == truth[0] and shifted[1][0] == pytest.approx(0.6 + truth[0][0] - 0.5)
    fitted = corrected(pool, {0: truth[0], 1: truth[1], 2: truth[2]})
    assert fitted[3:] == [pytest.approx(t) for t in truth[3:]]
    assert corrected(pool, {0: truth[0], 1: None})[1][1] == pytest.approx(4.0)  # a failed one teaches nothing


def test_summarise_merges_raw_files_into_the_headline_rows(study, tmp_path, capsys):
    import json

    from benchmarks.common import machine_info
    from benchmarks.search_scale.cli import main
    from benchmarks.search_scale.strategies import per_trial

    files = []
    for seed in (0, 1):
        cache = synthetic_cache(study)
        runs = [dict(per_trial(study, cache, seed=seed, rule=r, log=print), dataset="digits") for r in (None, "energy")]
        files.append(tmp_path / f"seed{seed}.json")
        files[-1].write_text(json.dumps(dict(command="run", machine=machine_info(), dataset="digits", seed=seed,
                                             runs=runs, fidelity=[], results=cache.results)))
    out = tmp_path / "scale.json"
    main(["summarise", *map(str, files), "--json", str(out)])
    rows = json.loads(out.read_text())
    assert [(r["seed"], r["strategy"]) for r in rows] == [(0, "tpe"), (0, "tpe+early-stop-energy"),
                                                           (1, "tpe"), (1, "tpe+early-stop-energy")]
    for r in rows:
        assert {"dataset", "seed", "strategy", "compute_s", "compute_to_95_s", "hypervolume",
                "baseline_hypervolume"} <= set(r)
    assert len({tuple(r["reference"]) for r in rows}) == 1, "one range reference across seeds"
    for r in rows:  # the study's reference is worse on both objectives than the range one: it covers more
        assert r["study_reference"] == study.reference_point()
        assert r["hypervolume_study_ref"] > r["hypervolume"] > 0
        if r["strategy"] == "tpe":
            assert r["hypervolume_study_ref"] == r["baseline_hypervolume_study_ref"]
    assert (tmp_path / "scale.png").stat().st_size > 10_000
    assert "| digits | 1 | tpe+early-stop-energy |" in capsys.readouterr().out

    # Another dataset's random architectures (no search run, far lower accuracy) change no digits row.
    other = tmp_path / "cifar.json"
    row = dict(next(iter(cache.results.values())), val_acc=0.1, energy_mj=99.0)
    other.write_text(json.dumps(dict(command="run", machine=machine_info(), dataset="cifar", seed=0, runs=[],
                                     fidelity={"24": [dict(key="c", standalone=[0.1, 99.0], inherited=[0.1, 99.0])]},
                                     results={"c": row})))
    main(["summarise", *map(str, files), str(other), "--json", str(tmp_path / "with_cifar.json")])
    assert json.loads((tmp_path / "with_cifar.json").read_text()) == rows


def test_the_sparsity_aware_kernel_is_snasnets():
    import torch

    from benchmarks.search_scale.snasnet import sparsity_aware_kernel

    codes = torch.tensor([[1, 0, 1, 0], [1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]], dtype=torch.float32)
    k = sparsity_aware_kernel(codes)
    assert k[0, 1] == 4 and k[0, 0] == 4, "identical codes: N"
    # Complementary codes at rate 1/2: N - 0.5 / (0.5 + 1e-3) * 4.
    assert k[0, 2].item() == pytest.approx(4 - 0.5 / 0.501 * 4)
    # Rates 1/2 and 1: Hamming 2, norm 1/2 * 0 + 1 * 1/2.
    assert k[0, 3].item() == pytest.approx(4 - 0.5 / 0.501 * 2) and torch.equal(k, k.T)


def test_the_score_rises_with_how_differently_the_network_codes_inputs():
    import torch

    from benchmarks.search_scale.snasnet import score
    from fwformer.layers import make_lif

    class Net(torch.nn.Module):
        def __init__(self, gain):
            super().__init__()
            self.gain, self.lif = gain, make_lif()

        def forward(self, x):  # [B, F] -> [T 2, B, F]
            return self.lif(torch.stack([x, x]) * self.gain)

    x = torch.randn(32, 64, generator=torch.Generator().manual_seed(0))
    diverse, blind = score(Net(3.0), [x]), score(Net(0.0), [x])  # a gain of 0: no input ever spikes
    assert blind == float("-inf") < diverse
    assert score(Net(3.0), [x]) == diverse, "the neurons start from rest on every call"


def test_every_mixer_of_fw_paretos_space_has_a_kind_and_hybrids_take_the_strongest(study):
    from benchmarks.search_scale.interference import kind_of

    kinds = {m: kind_of(m) for m in study.space.block_choices[0]}
    assert kinds["ssa"] == kinds["qkta"] == kinds["ssa+fft2d"] == kinds["spectral+ssa"] == "attention"
    assert kinds["dwt-db2@2"] == kinds["fft2d+dwt-haar"] == kinds["identity"] == "fixed"
    assert kinds["hartley2d+wavefilter-haar"] == kinds["hyena2d-flip"] == kinds["wavefilter-learned-db2"] == "filter"
    with pytest.raises(ValueError, match="no kind"):
        kind_of("not-a-mixer")


def test_a_split_explains_the_rank_error_only_where_the_groups_carry_it():
    from benchmarks.search_scale.interference import split_effect

    standalone = [0.1 * i for i in range(12)]
    groups = ["a"] * 6 + ["b"] * 6
    # the supernet ranks within each group right but puts group b (the better one) below group a
    inherited = [s + (1.0 if g == "a" else 0.0) for s, g in zip(standalone, groups)]
    biased = split_effect(groups, inherited, standalone)
    assert biased["eta_squared"] > 0.9
    assert biased["within"]["a"]["tau"] == biased["within"]["b"]["tau"] == pytest.approx(1.0)
    assert biased["tau_gap_removed"] == pytest.approx(1.0)
    # the same error, but spread over both groups alike: nothing for the split to fix
    mixed = ["a", "b"] * 6
    spread = split_effect(mixed, inherited, standalone)
    assert spread["eta_squared"] < 0.1
    assert spread["tau_gap_removed"] < 0.6


def test_the_replicas_ceiling_is_what_the_truth_reaches_against_one_noisy_replica():
    import numpy as np
    from scipy.stats import kendalltau

    from benchmarks.search_scale.noise import ceiling_from_replicas

    rng = np.random.default_rng(0)
    truth = rng.normal(size=4000)
    for spread in (0.3, 1.0, 2.0):  # from little noise to noise twice the architectures' spread
        first, second = truth + spread * rng.normal(size=4000), truth + spread * rng.normal(size=4000)
        estimate = ceiling_from_replicas(kendalltau(first, second).statistic)
        assert estimate == pytest.approx(kendalltau(truth, first).statistic, abs=0.02)
    assert ceiling_from_replicas(1.0) == pytest.approx(1.0) and ceiling_from_replicas(-0.2) == 0.0


def test_noise_rows_compare_the_replicas_within_each_T_and_each_supernet_on_the_same_architectures():
    from benchmarks.search_scale.noise import noise_rows

    def row(acc, T):
        return dict(val_acc=acc, T=T, failed=False, cpu_s=1.0)

    results = {f"a{i}": row(0.90 + 0.01 * i, 1 if i < 4 else 2) for i in range(8)}
    replicas = {k: row(r["val_acc"] + (0.001 if k == "a0" else 0.0), r["T"]) for k, r in results.items()}
    replicas["a7"] = row(0.0, 2) | dict(failed=True)  # a failed replica leaves the comparison
    pairs = {k: dict(key=k, inherited=[-r["val_acc"], 1.0], inherited_loss=r["val_acc"]) for k, r in results.items()}
    out = noise_rows("digits", results, replicas, {24: pairs, "balanced-e24": {k: pairs[k] for k in ("a1", "a2")}}, (0, 1))
    assert out["architectures"] == 7 and out["train_seeds"] == [0, 1]
    assert out["tau_replicas"]["tau"] == pytest.approx(1.0) and out["ceiling"] == pytest.approx(1.0)
    assert out["by_T"]["1"]["n"] == 4 and out["by_T"]["2"]["n"] == 3
    assert out["by_T"]["1"]["sd_replica_difference"] > 0 == out["by_T"]["2"]["sd_replica_difference"]
    net = out["supernets"]["supernet e24"]  # inherited ranks backwards; its loss ranks backwards too
    assert net["n"] == 7 and net["tau_first_replica"] == pytest.approx(-1.0) == net["tau_mean_of_replicas"]
    assert net["tau_loss_first_replica"] == pytest.approx(-1.0)
    assert "supernet balanced-e24" not in out["supernets"], "too few architectures in common"


def test_the_replicas_plot_draws_every_architecture_of_both_panels(tmp_path):
    from benchmarks.search_scale.noise import plot

    results = {f"a{i}": dict(val_acc=0.9 + 0.01 * i, T=(1, 2)[i % 2], failed=False) for i in range(6)}
    replicas = {k: dict(r, val_acc=r["val_acc"] - 0.005) for k, r in results.items()}
    pairs = {k: dict(inherited=[r["val_acc"] + 0.02, 1.0]) for k, r in results.items()}
    path = plot(results, replicas, pairs, "supernet e24", tmp_path / "noise.png")
    assert path.stat().st_size > 10_000


def test_balanced_and_candidate_lr_supernets_are_named_apart_from_the_uniform_one_of_the_same_epochs():
    from benchmarks.search_scale.cli import _fidelity, supernet_id
    from benchmarks.search_scale.summary import pooled_pairs, supernet_label

    assert supernet_id("fidelity", 24) == 24 and supernet_id("supernet-balanced", 24) == "balanced-e24"
    assert supernet_id("fidelity-balanced-e48", 48) == "balanced-e48"
    assert supernet_id("fidelity-lr4", 24) == "uniform-e24-lr4"
    assert supernet_id("fidelity-distill", 24) == supernet_id("supernet-distill", 24) == "uniform-e24-inplace"
    assert supernet_id("fidelity-bn-per-T", 24) == supernet_id("supernet-bn-per-T", 24) == "uniform-e24-bnper-T"
    raws = [dict(dataset="digits", seed=0, fidelity={"24": [dict(key="a")], "balanced-e24": [dict(key="b")],
                                                      "48": [dict(key="c")], "uniform-e24-lr4": [dict(key="d")]})]
    pooled = pooled_pairs(_fidelity(raws), "digits")
    assert list(pooled) == [24, 48, "balanced-e24", "uniform-e24-lr4"]
    assert [supernet_label(s) for s in pooled] == ["supernet e24", "supernet e48", "supernet balanced-e24",
                                                   "supernet uniform-e24-lr4"]


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_a_replicas_file_reads_back_only_for_the_train_seed_it_was_trained_with(tmp_path, suffix):
    from benchmarks.search_scale.noise import load_replicas, save_replicas
    from fwformer.cli import ConfigError

    path = tmp_path / f"replicas{suffix}"
    assert load_replicas(path, 1) == {}, "no file yet: nothing cached"
    save_replicas(path, 1, {"a": dict(val_acc=0.9)})
    assert load_replicas(path, 1) == {"a": dict(val_acc=0.9)}
    with pytest.raises(ConfigError, match="train.seed=1, not --train-seed 2"):
        load_replicas(path, 2)
    path.write_bytes(b"not json")
    with pytest.raises(ConfigError, match="is not a replicas file"):
        load_replicas(path, 1)


def test_the_architectures_trained_beforehand_are_the_ones_random_fidelity_scores(study):
    from benchmarks.common import random_architectures
    from benchmarks.search_scale.strategies import random_fidelity

    cache = synthetic_cache(study)
    drawn = [cache.key(p) for p in random_architectures(study, 3, n=5, key=cache.key)]
    assert len(set(drawn)) == 5
    first = cache.study.trial_config(next(random_architectures(study, 3, key=cache.key)))
    cache.results[drawn[0]] = dict(mixers=list(first.block_mixers), T=first.T, failed=True, complete=True, cpu_s=1.0)

    def score(choice):
        return dict(val_acc=0.5, energy_mj=1.0, val_loss=2.0)

    pairs = random_fidelity(study, cache, score, 5, seed=3)
    scored = [p["key"] for p in pairs]
    assert scored[:4] == drawn[1:], "the same draws, in order, the failed one skipped"
    assert len(scored) == 5 and scored[4] not in drawn, "a failed training is replaced by the next draw"
    assert sorted(k for k, _ in cache.trainings) == sorted(scored), "only the architectures scored were trained"


def test_rows_trained_in_the_background_reach_the_cache_only_when_joined(study, tmp_path):
    import json
    import threading

    from benchmarks.search_scale.cli import _Background

    cache = synthetic_cache(study)
    cache.path = tmp_path / "cache.json"
    release = threading.Event()

    def work(on_row):
        on_row("a", dict(val_acc=0.9, complete=True))
        release.wait(10)

    background = _Background(cache, work)
    assert cache.results == {}, "the main thread may be writing the cache meanwhile"
    release.set()
    background.join()
    assert cache.results == {"a": dict(val_acc=0.9, complete=True)}
    assert json.loads(cache.path.read_text())["results"] == cache.results

    def broken(on_row):
        raise RuntimeError("a worker died")

    with pytest.raises(RuntimeError, match="a worker died"):
        _Background(cache, broken).join()


def test_the_cifar_setting_is_cifar_small_on_the_shared_subset_at_the_same_space(study, monkeypatch, tmp_path):
    from benchmarks.search_scale import study as scale
    from fwformer.cli import ConfigError

    monkeypatch.setattr(scale, "CIFAR_SUBSET", tmp_path / "none.npz")
    with pytest.raises(ConfigError, match="--dataset cifar needs the CIFAR-10 subset"):
        scale.scale_study("cifar", 24)
    monkeypatch.undo()
    if not scale.CIFAR_SUBSET.is_file():
        pytest.skip("no ../shared/data/cifar10_train_subset.npz")
    cifar = scale.scale_study("cifar", 24)
    assert (cifar.base.img_size, cifar.base.in_channels, cifar.base.embed_dim) == (32, 3, 64)
    assert cifar.base.data.name == "npz" and cifar.base.train.lr == pytest.approx(2e-3)
    assert cifar.space.to_dict()["size"] == study.space.to_dict()["size"] == 8_340_544 and cifar.base.depth == study.base.depth == 4


def test_the_leagues_seeds_are_read_as_replicas_over_all_configurations_and_each_convention():
    from benchmarks.search_scale.noise import league_agreement, league_table

    runs = []
    for i, mixer in enumerate(["a", "b", "c", "d"]):  # the spike rows agree in order across seeds 0 and 1 only
        for seed in (0, 1, 2):
            acc = 0.5 + 0.01 * i if seed < 2 else 0.5 - 0.01 * i
            runs.append(dict(dataset="cifar", mixer=mixer, shortcut="spike", seed=seed, val_acc=acc))
    runs += [dict(dataset="cifar", mixer="a", shortcut="membrane", seed=s, val_acc=0.9) for s in (0, 1, 2)]
    runs.append(dict(dataset="cifar", mixer="e", shortcut="spike", seed=0, val_acc=0.7))  # one seed only: left out
    rows = {r["shortcuts"]: r for r in league_agreement(runs)}
    spike = rows["spike"]
    assert spike["configurations"] == 4 and spike["seeds"] == [0, 1, 2] and "mixer e" not in str(spike)
    assert spike["tau_seed_pairs"] == pytest.approx({"0-1": 1.0, "0-2": -1.0, "1-2": -1.0})
    assert spike["tau_replicas"] == pytest.approx(-1 / 3) and spike["ceiling"] == 0.0
    assert rows["all"]["configurations"] == 5 and rows["all"]["tau_replicas"] > spike["tau_replicas"]
    assert spike["sd_within_configuration"] > 0 and rows["all"]["sd_across_configurations"] > spike["sd_across_configurations"]
    assert "| cifar | spike | 4 | 0-1: 1.00, 0-2: -1.00, 1-2: -1.00 | -0.33 | 0.00 |" in league_table(list(rows.values()))


def _first_trained(cache, events, n):
    """A synthetic cache holding only the rows of the first `n` trials of a run, as a run still under way leaves it."""
    partial = synthetic_cache(cache.study)
    partial.results = {e["key"]: cache.results[e["key"]] for e in events[:n]}
    return partial


def test_a_cache_that_may_not_train_replays_the_run_so_far_and_stops_at_the_first_trial_it_lacks(study):
    from benchmarks.search_scale.strategies import per_trial

    cache = synthetic_cache(study)
    whole = per_trial(study, cache, seed=0, rule=None, log=print)
    assert "partial" not in whole
    under_way = _first_trained(cache, whole["events"], 10)
    under_way.trains = False
    so_far = per_trial(study, under_way, seed=0, rule=None, log=print)
    assert so_far["partial"] is True and under_way.trainings == []
    assert so_far["events"] == whole["events"][:10]


def test_progress_gives_the_speed_up_at_equal_hypervolume_or_a_lower_bound_while_the_baseline_has_not_reached_it(study):
    from benchmarks.search_scale import progress
    from benchmarks.search_scale.strategies import per_trial
    from benchmarks.search_scale.summary import curve, range_reference

    cache = synthetic_cache(study)
    events = per_trial(study, cache, seed=0, rule=None, log=print)["events"]
    reference = range_reference(list(cache.results.values()))
    hv = curve(events, reference)
    reached = next(i for i, (_, v) in enumerate(hv) if v > 0.5 * hv[-1][1])  # a trial that raised the front
    # A one-shot run that found trial `reached`'s architecture and the first one at 1/10 of the CPU-seconds.
    shot = dict(strategy="supernet", events=[dict(key=None, state="SCORED", cpu_s=1.0, values=None),
                                              dict(events[0], cpu_s=2.0), dict(events[reached], cpu_s=3.0)])
    target = curve(shot["events"], reference)[-1][1]
    base_cpu = next(c for c, v in hv if v >= target)
    row = progress.equal_hypervolume(dict(events=events), shot, reference)
    assert row["hypervolume"] == target and row["compute_to_own_hypervolume_s"] == 3.0
    assert row["speedup_at_equal_hypervolume"] == pytest.approx(base_cpu / 3.0)
    # The baseline so far stops before that point: only a lower bound, its CPU-seconds so far over the run's.
    early = [e for e in events if e["cpu_s"] < base_cpu]
    row = progress.equal_hypervolume(dict(events=early), shot, reference)
    assert row["baseline_compute_to_same_s"] is None and "speedup_at_equal_hypervolume" not in row
    assert row["speedup_at_equal_hypervolume_at_least"] == pytest.approx(early[-1]["cpu_s"] / 3.0)


def test_the_progress_command_replays_the_cache_without_training_and_compares_the_one_shot_runs(study, tmp_path, capsys):
    import json

    from benchmarks.common import machine_info, write_json
    from benchmarks.search_scale.cli import main
    from benchmarks.search_scale.strategies import per_trial

    from benchmarks.search_scale.summary import curve, range_reference

    cache = synthetic_cache(study)
    whole = per_trial(study, cache, seed=0, rule=None, log=print)
    under_way = _first_trained(cache, whole["events"], 12)
    write_json(tmp_path / "cache.json", dict(study=study.name, results=under_way.results))
    hv = curve(whole["events"][:12], range_reference(list(under_way.results.values())))
    first = next(i for i, (_, v) in enumerate(hv) if v > 0)  # the first trial whose front has a hypervolume
    shot = dict(strategy="supernet", seed=0, events=[dict(key=None, state="SCORED", cpu_s=1.0, values=None),
                                                     dict(whole["events"][first], cpu_s=2.0)])
    other_seed = dict(shot, seed=1)
    raw = tmp_path / "raw.json"
    write_json(raw, dict(command="run", machine=machine_info(), dataset="digits", seed=0, runs=[shot, other_seed],
                         fidelity={}, results={}))
    out = tmp_path / "p" / "digits_seed0.json"
    main(["progress", str(raw), "--dataset", "digits", "--seed", "0", "--trials", "24", "--cache",
          str(tmp_path / "cache.json"), "--json", str(out)])
    row = json.loads(out.read_text())
    assert (row["baseline_trials"], row["baseline_budget"], row["baseline_finished"]) == (12, 24, False)
    assert row["baseline_trained_on"] == {"unrecorded": 12}, "the synthetic rows name no CPU"
    assert row["baseline_compute_s"] == pytest.approx(whole["events"][11]["cpu_s"])
    assert [r["strategy"] for r in row["one_shot"]] == ["supernet"], "only the runs of the same seed"
    assert row["one_shot"][0]["hypervolume"] == pytest.approx(hv[first][1]) and hv[first][1] > 0
    assert row["one_shot"][0]["speedup_at_equal_hypervolume"] == pytest.approx(whole["events"][first]["cpu_s"] / 2.0)
    assert out.with_suffix(".png").stat().st_size > 10_000
    assert "| supernet | 2 |" in capsys.readouterr().out


def test_summarise_leaves_out_one_shot_runs_whose_seed_has_no_finished_baseline(study, tmp_path, capsys):
    import json

    from benchmarks.common import machine_info, write_json
    from benchmarks.search_scale.cli import main
    from benchmarks.search_scale.strategies import per_trial

    cache = synthetic_cache(study)
    base = dict(per_trial(study, cache, seed=0, rule=None, log=print), dataset="digits")
    shot = dict(strategy="supernet", seed=0, dataset="digits", events=[dict(base["events"][0], cpu_s=1.0)])
    files = {}
    for name, runs in (("alone", [base]), ("waiting", [base, dict(shot, seed=1)]),
                       ("partial", [base, dict(base, seed=1, partial=True), dict(shot, seed=1)])):
        files[name] = write_json(tmp_path / f"{name}.json", dict(command="run", machine=machine_info(), dataset="digits",
                                                                 seed=0, runs=runs, fidelity={}, results=cache.results))
    rows = {}
    for name, path in files.items():
        main(["summarise", str(path), "--json", str(tmp_path / f"{name}_rows.json")])
        rows[name] = json.loads((tmp_path / f"{name}_rows.json").read_text())
        printed = capsys.readouterr().out
        assert ("left out until their seed's TPE baseline is finished" in printed) == (name != "alone")
        if name != "alone":
            assert "seed 1 supernet" in printed
    assert rows["waiting"] == rows["partial"] == rows["alone"] and [r["strategy"] for r in rows["alone"]] == ["tpe"]
