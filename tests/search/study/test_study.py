"""Studies: every shipped file loads, name resolution, overrides, and bad input named by its key."""
from __future__ import annotations

import pytest

from fwformer.cli import ConfigError
from search.study import Study, load_study, repo_studies_dir, study_names

SHIPPED = sorted(p.stem for p in repo_studies_dir().glob("*.yaml"))


def test_the_required_studies_ship():
    assert {"quickstart", "fw_pareto", "fw_pareto_dvs"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_study_loads(name):
    study = load_study(name)
    assert isinstance(study, Study) and study.name == name
    assert study.metric_names[:2] == ["val_acc", "energy_mj"] and study.directions[:2] == ["maximize", "minimize"]
    assert study.base.img_size and study.space.depth == study.base.depth
    assert study.search.trials >= 1 and study.resources.cpu > 0
    # The first choice of every block makes a valid trial config.
    params = {k: v[0] for k, v in study.space.choices().items()}
    cfg = study.trial_config(params)
    assert cfg.block_mixers == [c[0] for c in study.space.block_choices]


def test_quickstart_matches_its_promise():
    study = load_study("quickstart")
    assert study.base.data.name == "digits" and study.base.name == "tiny" and study.space.depth == 4
    wanted = {"ssa", "fft1d", "fft2d", "dwt-haar", "dwt-db2", "identity"}
    choices = set(study.space.block_choices[0])
    assert wanted <= choices and any("+" in c for c in choices)
    assert study.space.T == [1, 2, 4] and study.search.trials >= 16
    assert study.search.max_concurrent == 2 and study.resources.gpu == 0


def test_real_studies_have_gpu_fractions_and_early_stopping():
    for name, dataset, depth in [("fw_pareto", "cifar10", 4), ("fw_pareto_dvs", "dvs128_gesture", 2)]:
        study = load_study(name)
        assert study.base.data.name == dataset and study.space.depth == depth
        assert 0 < study.resources.gpu < 1 and study.search.early_stop.enabled
        choices = study.space.block_choices[0]
        assert sum(c.startswith("dwt-") for c in choices) >= 4 and sum("+" in c for c in choices) >= 2


@pytest.fixture
def mini(tmp_path):
    """A small study (no wavelets: fast to load) in its own folder."""
    path = tmp_path / "mini.yaml"
    path.write_text(
        "base: tiny\n"
        "train: {epochs: 2}\n"
        "space: {depth: 2, mixers: [ssa, identity], T: [1, 2]}\n"
        "search: {trials: 3}\n"
    )
    return path


def test_overrides_of_the_contract(mini):
    study = load_study(mini, ["search.trials=7", "search.max_concurrent=3", "search.sampler=nsga2",
                              "search.seed=11", "space.mixers=[identity,ssa+identity]", "space.T=[2,4]",
                              "train.epochs=5", "resources.gpu=0.25", "resources.cpu=2"])
    s = study.search
    assert (s.trials, s.max_concurrent, s.sampler, s.seed) == (7, 3, "nsga2", 11)
    assert study.space.block_choices == [["identity", "ssa+identity"]] * 2 and study.space.T == [2, 4]
    assert study.base.train.epochs == 5 and study.base.train.lr == load_study(mini).base.train.lr
    assert (study.resources.gpu, study.resources.cpu) == (0.25, 2)
    assert study.raw["search"]["trials"] == 7 and study.raw["train"] == {"epochs": 5}


def test_quoted_names_in_list_overrides(mini):
    study = load_study(mini, ["space.mixers=[fft2d+dwt-haar,dwt-db2@2]"])
    assert study.space.block_choices[0] == ["fft2d+dwt-haar", "dwt-db2@2"]
    study = load_study(mini, ["space.mixers=identity"])
    assert study.space.block_choices[0] == ["identity"]


def test_sections_merge_onto_the_base_preset(mini):
    study = load_study(mini, ["data=digits", "arch.embed_dim=16", "data.val_fraction=0.3"])
    assert study.base.embed_dim == 16 and study.base.data.val_fraction == 0.3
    assert study.base.train.epochs == 2 and study.base.train.lr == 5.0e-3  # the tiny preset's lr survives


@pytest.mark.parametrize("override, message", [
    ("search.trails=3", r"unknown key 'search\.trails' \(did you mean: trials\?\)"),
    ("train.epoch=3", r"unknown key 'train\.epoch' \(did you mean: epochs"),
    ("spaces.T=[1]", r"unknown key 'spaces' \(did you mean: space"),
    ("search.trials=many", r"bad value for 'search\.trials'"),
    ("space.T=[0]", r"space\.T must hold integers >= 1, but got \[0\]"),
    ("space.mixers=[ssa,fft3d]", r"space\.mixers\[1\]: unknown mixer 'fft3d'"),
    ("search.sampler=cmaes", r"search\.sampler must be one of: tpe, nsga2, random, gp, but got 'cmaes'"),
    ("search.trials=0", r"search\.trials must be >= 1, but got 0"),
    ("resources.gpu=1.5", r"resources\.gpu must be a fraction in \[0, 1\] or a whole number"),
    ("objectives=[{metric: accuracy, direction: maximize}]", r"objectives\[0\]\.metric must be one of: .*val_acc"),
    ("objectives=[{metric: val_acc, direction: up}]", r"objectives\[0\]\.direction must be one of: maximize"),
    ("objectives.0.metric=accuracy", r"cannot merge the config layers.*a list is set whole"),
    ("search.early_stop.rule=hyperband", r"search\.early_stop\.rule must be one of: median, percentile"),
    ("train.lr=fast", r"bad value for 'train\.lr'"),
    ("base=tiny2", r"base: unknown preset 'tiny2' \(did you mean: tiny"),
    ("noequals", r"override 'noequals' is not of the form key=value"),
])
def test_bad_overrides_name_the_key(mini, override, message):
    with pytest.raises(ConfigError, match=message):
        load_study(mini, [override])


def test_unknown_study_lists_the_studies():
    with pytest.raises(ConfigError, match=r"unknown study 'quickstrat' \(did you mean: quickstart\?\); expected a "
                                          r"YAML file or one of: .*fw_pareto.*quickstart"):
        load_study("quickstrat")
    with pytest.raises(ConfigError, match=r"study file 'nope\.yaml' does not exist"):
        load_study("nope.yaml")
    assert "quickstart" in study_names()


def test_studies_in_the_working_directory_come_first(tmp_path, monkeypatch, mini):
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "mine.yaml").write_text(mini.read_text())
    monkeypatch.chdir(tmp_path)
    assert load_study("mine").name == "mine"
    assert "mine" in study_names() and "quickstart" in study_names()


def test_space_file_named_by_the_study(tmp_path):
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "s.yaml").write_text("depth: 3\nmixers: [ssa, identity]\nT: [1]\n")
    study_file = tmp_path / "st.yaml"
    study_file.write_text("base: tiny\nspace: {file: spaces/s.yaml, T: [2]}\n")
    study = load_study(study_file, ["space.mixers=[identity]"])
    assert study.space.depth == 3 and study.space.T == [2] and study.space.block_choices[0] == ["identity"]
    (tmp_path / "bad.yaml").write_text("base: tiny\nspace: {file: spaces/missing.yaml}\n")
    with pytest.raises(ConfigError, match=r"space\.file: space file '.*missing\.yaml' does not exist"):
        load_study(tmp_path / "bad.yaml")


def test_reference_point(mini):
    """Accuracy's reference is 0; energy's, by default, the energy at firing rate 1 of the costliest
    architecture of the space, here found by pricing every architecture with the energy meter."""
    import itertools

    from fwformer.data import dataset_info
    from fwformer.energy import measure_energy
    from fwformer.model import build_model

    study = load_study(mini)
    choices = study.space.choices()
    energies = []
    for values in itertools.product(*choices.values()):
        cfg = study.trial_config(dict(zip(choices, values)))
        ec = cfg.energy
        input_kind = "frames" if dataset_info(cfg.data).event else "static"
        report = measure_energy(build_model(cfg), None, input_kind=input_kind, energy_model=ec.model,
                                e_mac_pj=ec.e_mac_pj, e_ac_pj=ec.e_ac_pj, e_memory_pj_per_byte=ec.e_memory_pj_per_byte)
        assert report.rate_one  # no batches: every spike input at rate 1
        energies.append(report.energy_mj)
    assert len(energies) == 8 and len(set(energies)) > 1  # 2 x 2 mixers, 2 T: they differ
    assert study.reference_point() == [0.0, pytest.approx(max(energies), rel=1e-9)]


def test_geometry_from_the_dataset(tmp_path):
    path = tmp_path / "geo.yaml"
    path.write_text("base: tiny\narch: {img_size: null, in_channels: null, num_classes: null}\n"
                    "data: {name: digits}\nspace: {depth: 2, mixers: [ssa, identity]}\n")
    study = load_study(path)
    assert (study.base.img_size, study.base.in_channels, study.base.num_classes) == (8, 1, 10)
    assert study.space.grid == (8, 8)
    with pytest.raises(ConfigError, match=r"img_size=16 in the config, but dataset 'digits' has img_size=8"):
        load_study(path, ["arch.img_size=16"])


def test_a_study_needs_a_space(tmp_path):
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(ConfigError, match=r"space\.mixers must name at least one mixer"):
        load_study(tmp_path / "empty.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=r"must hold a mapping of sections"):
        load_study(tmp_path / "list.yaml")
