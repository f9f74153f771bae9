"""benchmarks.common: what every benchmark shares."""
from __future__ import annotations

import json

import pytest


def test_write_json_leaves_the_previous_file_whole_when_the_write_does_not_finish(tmp_path, monkeypatch):
    import os

    from benchmarks.common import write_json

    path = write_json(tmp_path / "cache.json", {"results": {"a": 1}})

    def killed(src, dst):  # the process dies after writing the new text, before it takes the file's place
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_json(path, {"results": {"a": 1, "b": 2}})
    assert json.loads(path.read_text()) == {"results": {"a": 1}}
    assert [p.name for p in tmp_path.iterdir()] == ["cache.json"], "no temporary file is left behind"
    monkeypatch.undo()
    write_json(path, {"results": {"a": 1, "b": 2}})
    assert json.loads(path.read_text()) == {"results": {"a": 1, "b": 2}}
