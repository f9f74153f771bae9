"""benchmarks.common.CurveCache: the one train-and-cache helper of the benchmarks trains an
architecture once, as its trial would, keeps its curve and cost, replays it without training, and
refuses a cache file from other settings."""
from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def short():
    """The search-at-scale study shortened to one epoch: a real training takes seconds."""
    from benchmarks.search_scale.study import scale_study

    return scale_study("digits", 1, ["train.epochs=1"])


def first_choice(study, T=1):
    return {k: v[0] for k, v in study.space.choices().items()} | {"T": T}


def test_a_real_training_is_cached_with_its_curve_and_cpu_and_read_back_by_a_cache_that_may_not_train(short, tmp_path):
    from benchmarks.common import CurveCache, NotCached, cpu_model

    params = first_choice(short)
    cache = CurveCache(short, tmp_path / "cache.json", print)
    key, row = cache(params)
    assert row["complete"] and not row["failed"] and [e["epoch"] for e in row["epochs"]] == [1]
    assert row["cpu"] == cpu_model() and row["cpu_s"] >= row["epochs"][-1]["cpu_s"] > 0 and row["wall_s"] > 0
    assert row["params"] == params and row["param_count"] > 0 and row["energy_bound_mj"] > row["energy_mj"] > 0
    assert cache.trained == [key]
    assert cache(params) == (key, row) and cache.trained == [key], "cached: not trained again"
    replay = CurveCache(short, tmp_path / "cache.json", print)
    replay.trains = False
    assert replay(params) == (key, row)
    with pytest.raises(NotCached):
        replay(dict(params, T=2))


def test_a_cache_that_may_not_train_needs_no_dataset(short, monkeypatch):
    import fwformer.data

    from benchmarks.common import CurveCache, NotCached

    def no_data(cfg):
        raise AssertionError("a replay built the datasets")

    monkeypatch.setattr(fwformer.data, "build_datasets", no_data)
    cache = CurveCache(short, None, print)
    cache.trains = False
    params = first_choice(short)
    cache.results[cache.key(params)] = dict(val_acc=0.9, energy_mj=1e-3, cpu_s=2.0, failed=False)
    assert cache(params)[1]["val_acc"] == 0.9
    with pytest.raises(NotCached):
        cache(dict(params, T=2))


def test_rows_written_before_curves_were_kept_count_as_complete(short, tmp_path):
    """The search-efficiency and one-shot caches hold rows without `complete` or `epochs`: they are
    finished trainings, replayed as they are."""
    from benchmarks.common import CurveCache

    params = first_choice(short)
    key = CurveCache(short, None, print).key(params)
    row = dict(val_acc=0.8555, energy_mj=0.00032, train_time_s=4.7, params=32122, failed=False, mixers=["ssa"], T=1)
    (tmp_path / "old.json").write_text(json.dumps({"results": {key: row}}))
    cache = CurveCache(short, tmp_path / "old.json", print)
    cache.trains = False
    assert cache(params) == (key, row)


def test_a_cache_from_other_training_settings_is_refused_in_one_line(short, tmp_path):
    from benchmarks.common import CurveCache
    from benchmarks.search_scale.study import scale_study
    from fwformer.cli import ConfigError

    path = tmp_path / "cache.json"
    CurveCache(short, path, print).save()
    assert json.loads(path.read_text())["fingerprint"]["epochs"] == 1
    other = scale_study("digits", 1, ["train.epochs=1", "train.lr=1e-3"])
    with pytest.raises(ConfigError, match=r"was made with other settings \(train\.lr\)"):
        CurveCache(other, path, print)
    with pytest.raises(ConfigError, match=r"other settings \(epochs\)"):
        CurveCache(short, path, print, epochs=3)
    path.write_text("not json")
    with pytest.raises(ConfigError, match="is not a curve cache"):
        CurveCache(short, path, print)


def test_a_shortened_training_keeps_the_architectures_key(short):
    from benchmarks.common import CurveCache

    params = first_choice(short, T=2)
    cache = CurveCache(short, None, print, epochs=3, threads=2)
    cfg = cache.config(params)
    assert (cfg.train.epochs, cfg.train.num_threads, cfg.train.device) == (3, 2, "cpu")
    assert cache.key(params) == CurveCache(short, None, print).key(params) == short.space.canonical_key(cfg)
