"""Search spaces: validation, family expansion, conversion to configs, canonical keys, constraints."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from fwformer.cli import ConfigError
from fwformer.config import load_config
from fwformer.mixers import MIXERS
from fwformer.model import build_model
from space import SearchSpace, canonical_key, load_space


@pytest.fixture(scope="module")
def tiny():
    return load_config("tiny")  # 8x8 images, sps_pools 0: an 8x8 token grid


def space(spec, base):
    return load_space(spec, base)


# ---- validation ---------------------------------------------------------------------------------
def test_unknown_mixer_names_key_and_closest(tiny):
    with pytest.raises(ConfigError, match=r"space\.mixers\[1\]: unknown mixer 'fft3d' \(did you mean: .*fft2d"):
        space({"mixers": ["ssa", "fft3d"]}, tiny)


def test_unknown_mixer_in_per_block_list(tiny):
    with pytest.raises(ConfigError, match=r"space\.mixers\[1\]\[0\]: unknown mixer 'sa'"):
        space({"depth": 2, "mixers": [["ssa"], ["sa"]]}, tiny)


def test_unknown_wavelet_family(tiny):
    with pytest.raises(ConfigError, match=r"space\.wavelets: 'nosuchwave' is not a wavelet the 'dwt' family knows"):
        space({"mixers": ["dwt"], "wavelets": ["haar", "nosuchwave"]}, tiny)


def test_explicit_name_that_cannot_run_on_the_grid(tiny):
    with pytest.raises(ConfigError, match=r"space\.mixers\[0\]: 'dwt-coif2' cannot be built on the 8x8 token grid"):
        space({"mixers": ["dwt-coif2"]}, tiny)


def test_space_that_builds_no_valid_model(tiny):
    with pytest.raises(ConfigError, match=r"space\.mixers\[0\]: 'dwt' expands to no mixer that can be built on the "
                                          r"8x8 token grid with space\.wavelets=\['coif2'\]"):
        space({"mixers": ["dwt"], "wavelets": ["coif2"], "levels": [1, 2]}, tiny)


def test_constraints_that_admit_no_model(tiny):
    with pytest.raises(ConfigError, match=r"space\.constraints admit no model of this space: the cheapest .*"
                                          r"params [\d,]+ > max_params 1,000"):
        space({"depth": 2, "mixers": ["ssa", "identity"], "constraints": {"max_params": 1000}}, tiny)


@pytest.mark.parametrize("T, message", [([0, 2], r"space\.T must hold integers >= 1, but got \[0, 2\]"),
                                        (["a"], r"bad value for 'space\.T\[0\]'")])
def test_bad_T(tiny, T, message):
    with pytest.raises(ConfigError, match=message):
        space({"mixers": ["ssa"], "T": T}, tiny)


def test_bad_keys_and_shapes(tiny):
    with pytest.raises(ConfigError, match=r"unknown key 'space\.mixer' \(did you mean: mixers\?\)"):
        space({"mixer": ["ssa"]}, tiny)
    with pytest.raises(ConfigError, match=r"unknown key 'space\.constraints\.max_param' \(did you mean: max_params"):
        space({"mixers": ["ssa"], "constraints": {"max_param": 3}}, tiny)
    with pytest.raises(ConfigError, match=r"space\.mixers must name at least one mixer"):
        space({"mixers": []}, tiny)
    with pytest.raises(ConfigError, match=r"space\.mixers has 3 per-block lists, but depth is 2"):
        space({"depth": 2, "mixers": [["ssa"], ["ssa"], ["ssa"]]}, tiny)
    with pytest.raises(ConfigError, match=r"not a mix of both"):
        space({"depth": 2, "mixers": ["ssa", ["identity"]]}, tiny)


def test_width_combinations_must_build(tiny):
    with pytest.raises(ConfigError, match=r"space: num_heads=3 cannot be built: embed_dim must be divisible by "
                                          r"num_heads, but got embed_dim=32, num_heads=3"):
        space({"mixers": ["ssa"], "num_heads": [2, 3]}, tiny)


# ---- expansion ----------------------------------------------------------------------------------
def test_dwt_expansion_on_8x8_grid(tiny):
    # On 8x8 with periodization: haar at any level, db2 up to 2, coif2 at none (REFERENCE.md).
    s = space({"mixers": ["ssa", "dwt", "fft2d+dwt"], "wavelets": ["haar", "db2", "coif2"], "levels": [1, 2, 3]},
              tiny)
    dwt = ["dwt-haar", "dwt-haar@2", "dwt-haar@3", "dwt-db2", "dwt-db2@2"]
    assert s.block_choices[0] == ["ssa", *dwt, *[f"fft2d+{n}" for n in dwt]]
    assert {"dwt-db2@3", "dwt-coif2", "dwt-coif2@2", "fft2d+dwt-coif2"} <= set(s.dropped)
    assert all(len(c) == len(s.block_choices[0]) for c in s.block_choices)


def test_explicit_dwt_names_and_duplicates(tiny):
    s = space({"depth": 2, "mixers": [["dwt-db2@2", "dwt-haar", "dwt-haar"], ["fft2d+dwt-haar", "dwt-haar+fft2d"]]},
              tiny)
    assert s.block_choices == [["dwt-db2@2", "dwt-haar"], ["fft2d+dwt-haar"]]


@pytest.fixture
def fake_family(monkeypatch):
    """A family `fake-<w>[@L]` that knows wavelets a and b and builds level L only when 2**L <= grid side."""

    class Fake:
        @staticmethod
        def parse_suffix(suffix):
            wave, _, level = suffix.partition("@")
            if wave not in ("a", "b"):
                raise ConfigError(f"unknown fake wavelet '{wave}'")
            return {"wave": wave, "level": int(level or 1)}

        @staticmethod
        def check_grid(grid, *, wave, level):
            if 2 ** level > min(grid) or (wave == "b" and level > 1):
                raise ConfigError(f"fake-{wave}@{level} does not fit {grid}")

    from fwformer.mixers import registry

    monkeypatch.setitem(registry.FAMILIES, "fake-", Fake)
    monkeypatch.setitem(registry._FAMILY_PATTERNS, "fake-", "fake-<wave>[@level]")
    return Fake


def test_family_expansion_follows_the_registry(tiny, fake_family):
    s = space({"mixers": ["fake", "identity+fake"], "wavelets": ["a", "b"], "levels": [1, 2, 3, 4]}, tiny)
    kept = ["fake-a", "fake-a@2", "fake-a@3", "fake-b"]
    assert s.block_choices[0] == kept + [f"identity+{n}" for n in kept]
    assert set(s.dropped) >= {"fake-a@4", "fake-b@2", "fake-b@3"}
    with pytest.raises(ConfigError, match=r"space\.wavelets: 'c' is not a wavelet the 'fake' family knows"):
        space({"mixers": ["fake"], "wavelets": ["c"]}, tiny)


# ---- from choices to a model --------------------------------------------------------------------
@pytest.fixture(scope="module")
def small(tiny):
    return load_space({"depth": 3, "mixers": ["ssa", "identity", "ssa+identity"], "T": [1, 2],
                       "embed_dim": [16, 32], "mlp_ratio": [1.0]}, tiny)


def test_distributions_are_categorical_per_block(small):
    from optuna.distributions import CategoricalDistribution

    d = small.distributions()
    assert list(d) == ["mixer_0", "mixer_1", "mixer_2", "T", "embed_dim", "mlp_ratio"]
    assert all(isinstance(v, CategoricalDistribution) for v in d.values())
    assert d["mixer_1"].choices == ("ssa", "identity", "ssa+identity") and d["T"].choices == (1, 2)
    assert small.size() == 3 ** 3 * 2 * 2


def test_to_config_builds_a_model(small, tiny):
    params = {"mixer_0": "ssa+identity", "mixer_1": "identity", "mixer_2": "ssa", "T": 2, "embed_dim": 16,
              "mlp_ratio": 1.0}
    cfg = small.to_config(params, tiny)
    assert (cfg.block_mixers, cfg.T, cfg.depth, cfg.embed_dim, cfg.mlp_ratio) == (
        ["ssa+identity", "identity", "ssa"], 2, 3, 16, 1.0)
    assert cfg.train == tiny.train and cfg.data == tiny.data
    model = build_model(cfg)
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert small.params_from_config(cfg) == params


def test_to_config_rejects_params_outside_the_space(small):
    with pytest.raises(ConfigError, match=r"trial parameters lack 'mixer_2'"):
        small.to_config({"mixer_0": "ssa", "mixer_1": "ssa", "T": 1, "embed_dim": 16, "mlp_ratio": 1.0})
    with pytest.raises(ConfigError, match=r"trial parameter T=4 is not in the space; allowed: \[1, 2\]"):
        small.to_config({"mixer_0": "ssa", "mixer_1": "ssa", "mixer_2": "ssa", "T": 4, "embed_dim": 16,
                         "mlp_ratio": 1.0})


def test_canonical_key_equal_for_identical_architectures(small, tiny):
    p = {"mixer_0": "ssa", "mixer_1": "ssa+identity", "mixer_2": "identity", "T": 1, "embed_dim": 32,
         "mlp_ratio": 1.0}
    cfg = small.to_config(p)
    key = small.canonical_key(p)
    assert key == small.canonical_key(cfg) == canonical_key(cfg)
    # The same model spelled differently: hybrid order, a config dict, another training setup.
    same = dataclasses.replace(cfg, mixers=["ssa", "identity+ssa", "identity"], name="other",
                               train=dataclasses.replace(cfg.train, lr=1.0))
    assert canonical_key(same) == key
    from fwformer.config import config_to_dict

    assert small.canonical_key(config_to_dict(cfg)) == key
    # One field that changes the model changes the key.
    assert small.canonical_key({**p, "T": 2}) != key
    assert small.canonical_key({**p, "mixer_2": "ssa"}) != key
    assert small.canonical_key({**p, "embed_dim": 16}) != key
    one = dataclasses.replace(cfg, depth=2, mixers=["ssa"])
    two = dataclasses.replace(cfg, depth=2, mixers=["ssa", "ssa"])
    assert canonical_key(one) == canonical_key(two)


def test_check_constraints_counts_parameters(tiny):
    s = load_space({"depth": 2, "mixers": ["ssa", "identity"], "T": [1], "constraints": {"max_params": 30000}}, tiny)
    light = s.to_config({"mixer_0": "identity", "mixer_1": "identity", "T": 1})
    heavy = s.to_config({"mixer_0": "ssa", "mixer_1": "ssa", "T": 1})
    assert s.check_constraints(light) == []
    (violation,) = s.check_constraints(heavy)
    assert violation.startswith("params ") and violation.endswith("> max_params 30,000")


def test_space_file_and_per_block_lists(tmp_path, tiny):
    (tmp_path / "sp.yaml").write_text("depth: 2\nmixers: [[ssa, identity], [identity]]\nT: [1, 2]\n")
    s = load_space({"file": "sp.yaml", "T": [4]}, tiny, base_dir=tmp_path)
    assert s.block_choices == [["ssa", "identity"], ["identity"]] and s.T == [4]
    assert isinstance(s, SearchSpace) and s.to_dict()["blocks"] == s.block_choices


def test_names_come_from_the_registry_only(tiny):
    # Every fixed name of the registry is accepted as a choice; none is listed by the space itself.
    s = load_space({"depth": 1, "mixers": sorted(MIXERS)}, tiny)
    assert s.block_choices[0] == sorted(MIXERS)


def test_block_convention_is_a_searchable_choice(tiny):
    s = space({"mixers": ["sdsa", "fft2d"], "depth": 2, "T": [1], "shortcut": ["spike", "membrane"]}, tiny)
    assert s.choices()["shortcut"] == ["spike", "membrane"]
    params = {"mixer_0": "sdsa", "mixer_1": "fft2d", "T": 1, "shortcut": "membrane"}
    cfg = s.to_config(params)
    assert cfg.shortcut == "membrane" and build_model(cfg).blocks[0].mixer_lif is not None
    assert s.params_from_config(cfg) == params
    assert s.canonical_key(params) != s.canonical_key({**params, "shortcut": "spike"})
    assert s.max_energy_mj() > 0
    with pytest.raises(ConfigError, match=r"space.shortcut must hold values among spike, membrane, but got \['sew'\]"):
        space({"mixers": ["ssa"], "shortcut": ["sew"]}, tiny)
