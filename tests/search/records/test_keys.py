"""Names as keys (search.records.keys): every name the shipped studies' spaces expand to is a valid MLflow
key and file name, and maps back to itself."""
from __future__ import annotations

import pytest

from search.records import name_of_key, safe_key, safe_path
from search.study import load_study, repo_studies_dir

SHIPPED = sorted(p.stem for p in repo_studies_dir().glob("*.yaml"))


def expanded_names() -> list[str]:
    """Every mixer choice and every dropped name of every shipped study, with the wavelet names."""
    names: set[str] = set()
    for study_name in SHIPPED:
        space = load_study(study_name).space
        names.update(m for block in space.block_choices for m in block)
        names.update(space.dropped)
        names.update(space.wavelets)
    return sorted(names)


NAMES = expanded_names()


def test_the_shipped_spaces_hold_the_awkward_characters():
    assert any("@" in n for n in NAMES) and any("+" in n for n in NAMES) and any("." in n for n in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_expanded_name_round_trips_and_is_a_file_name(name, tmp_path):
    key = safe_key(name)
    assert name_of_key(key) == name
    assert all(c.isalnum() or c in "._-" for c in key), key
    (tmp_path / key).write_text("x")  # a valid file name here
    assert (tmp_path / key).read_text() == "x"


def test_readable_spellings():
    assert safe_key("dwt-bior2.2@2") == "dwt-bior2.2__at__2"
    assert safe_key("fft2d+dwt-haar") == "fft2d__plus__dwt-haar"
    assert safe_key("mixer_0") == "mixer_0" and safe_key("early_stop") == "early_stop"
    assert safe_path(["space", "dropped", "dwt-db3@2"]) == "space.dropped.dwt-db3__at__2"


@pytest.mark.parametrize("name", ["a_b", "x__at__y", "__", "___", "____", "a___b", "é+ü@", "a b/c:d", "__plus__",
                                  "_", ""])
def test_underscores_and_other_characters_round_trip(name):
    assert name_of_key(safe_key(name)) == name


@pytest.mark.parametrize("bad", ["a@b", "__zz__", "__u12__", "a__", "__at_"])
def test_text_safe_key_cannot_make_is_rejected(bad):
    with pytest.raises(ValueError):
        name_of_key(bad)


def test_mlflow_accepts_every_name_as_param_metric_and_tag_key(tmp_path):
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.create_run(client.create_experiment("keys"))
    keys = [safe_path(["space", "dropped", n]) for n in NAMES]
    for i in range(0, len(keys), 100):
        chunk = keys[i:i + 100]
        client.log_batch(run.info.run_id, params=[Param(k, "1") for k in chunk],
                         metrics=[Metric(k, 1.0, 0, 0) for k in chunk], tags=[RunTag(k, "1") for k in chunk])
    stored = client.get_run(run.info.run_id).data
    assert set(keys) <= set(stored.params) and set(keys) <= set(stored.metrics) and set(keys) <= set(stored.tags)
