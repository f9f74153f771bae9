"""`python -m fwformer.summary`: JSON output, the text table, and one-line errors with exit code 2."""
import json
import subprocess
import sys

import pytest

from fwformer.summary import format_summary, main

KEYS = {"params", "mixers", "T", "tokens", "macs", "acs", "energy_mj", "energy_model", "firing_rate", "layers",
        "by_block", "by_mixer"}


def run_json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_has_the_keys_and_rate_one(capsys):
    info = run_json(capsys, "tiny")
    assert KEYS <= set(info)
    assert info["mixers"] == ["ssa", "ssa"] and info["T"] == 2 and info["tokens"] == 64
    assert info["firing_rate"] == 1.0 and info["energy_mj"] > 0
    assert info["energy_model"] == "sop" and info["input_kind"] == "static"
    assert set(info["by_mixer"]) == {"blocks.0.mixer", "blocks.1.mixer"}


def test_energy_model_is_chosen_and_named(capsys):
    info = run_json(capsys, "tiny", "energy.model=simple", "depth=1")
    assert info["energy_model"] == "simple" and info["memory_bytes"] > 0
    assert info["costs"]["e_memory_pj_per_byte"] == 24.96
    assert "energy model simple (E_MAC 4.6 pJ, E_AC 0.9 pJ, memory 24.96 pJ/byte)" in format_summary(info)


def test_overrides_reach_the_model(capsys):
    ssa = run_json(capsys, "tiny")
    info = run_json(capsys, "tiny", "mixers=identity", "T=1")
    assert info["mixers"] == ["identity", "identity"] and info["T"] == 1
    assert info["acs"] < ssa["acs"] and info["energy_mj"] < ssa["energy_mj"]


def test_text_output_shows_totals_and_the_breakdown(capsys):
    assert main(["tiny"]) == 0
    out = capsys.readouterr().out
    for text in ("parameters", "8 x 8 = 64", "MACs", "ACs", "mJ per image", "blocks.1.mixer", "sps.stages.0.conv"):
        assert text in out


def test_module_entry_point_prints_one_json_object():
    done = subprocess.run([sys.executable, "-m", "fwformer.summary", "tiny", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert KEYS <= set(json.loads(done.stdout))


def test_unknown_preset_is_one_line_and_exit_2():
    done = subprocess.run([sys.executable, "-m", "fwformer.summary", "no-such-preset"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "unknown preset 'no-such-preset'" in errors[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("argv, match", [
    (["tiny", "depth=0"], "depth must be >= 1"),
    (["tiny", "nosuchkey=1"], "unknown key 'nosuchkey'"),
    (["tiny", "--batches", "2"], "goes with --data"),
    (["tiny", "energy.model=stp"], "unknown energy.model 'stp'; expected one of: sop, simple, lemaire"),
    (["tiny", "energy.model=lemaire"], "energy.model=lemaire cannot price 'blocks.0.mixer.qk'"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, match):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1


def test_fft2d_is_cheaper_than_ssa_for_spikformer_4_384(capsys):
    ssa = run_json(capsys, "spikformer-4-384")
    fft = run_json(capsys, "spikformer-4-384", "mixers=fft2d")
    assert fft["acs"] < ssa["acs"] and fft["energy_mj"] < ssa["energy_mj"]
    # The static image's first convolution is counted once (32 x 32 x 48 x 3 x 9), not T = 4 times.
    first = next(row for row in ssa["layers"] if row["name"] == "sps.stages.0.conv")
    assert first["kind"] == "MAC" and first["macs"] == 1_327_104 and ssa["repeated_layers"] == ["sps.stages.0.conv"]


def test_data_measures_rates_on_validation_batches(capsys):
    info = run_json(capsys, "tiny", "train.batch_size=16", "--data", "digits", "--batches", "2")
    assert info["data"] == "digits" and info["images"] == 32 and not info["rate_one"]
    assert 0 <= info["firing_rate"] < 1.0
