"""Recorded event datasets (dvs128_gesture, cifar10_dvs, nmnist) on small files in their genuine formats,
read back through tonic, integrated into frames, cached, split; and the errors when files are absent."""
from __future__ import annotations

import hashlib
import http.server
import multiprocessing
import shutil
import threading
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from event_formats import EVENT_DTYPE, write_cifar10_dvs, write_dvs128_gesture, write_nmnist

from fwformer.cli import ConfigError
from fwformer.config import load_config
from fwformer.data import DataUnavailableError, build_datasets, dataset_info, make_loader, with_data_geometry
from fwformer.data import events as ev
from fwformer.data import neuromorphic
from fwformer.data.frame_cache import FrameKey, is_complete, load_or_build
from fwformer.data.frames import integrate

# Our small sets have fewer recordings than the published ones, which the loader warns about.
pytestmark = pytest.mark.filterwarnings("ignore:dataset .* recordings in")

WRITERS = {"dvs128_gesture": write_dvs128_gesture, "cifar10_dvs": write_cifar10_dvs, "nmnist": write_nmnist}


def events(*rows) -> np.ndarray:
    """Events from (x, y, p, t_us) rows."""
    out = np.zeros(len(rows), EVENT_DTYPE)
    for i, (x, y, p, t) in enumerate(rows):
        out[i] = (x, y, t, p)
    return out


def event_cfg(name: str, root: Path, *overrides: str):
    return with_data_geometry(load_config("spikformer-2-256", [
        f"data={name}", f"data.root={root}", "data.download=false", "data.num_workers=0", "T=2", "sps_pools=1",
        "img_size=null", "num_classes=null", *overrides], check=False))


def frames_of(ds, file_suffix: str) -> torch.Tensor:
    """The frames of the one sample whose source file ends with `file_suffix`."""
    cached = ds.dataset
    (i,) = [i for i, f in enumerate(cached.files) if f.endswith(file_suffix)]
    return cached[i][0]


# --- formats, read by tonic --------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(WRITERS))
def test_tonic_reads_back_every_written_recording(tmp_path, name):
    written = {str(s.path): s for s in WRITERS[name](tmp_path)}
    folder = ev.ensure_extracted(name, tmp_path, download=False)
    seen = 0
    for part in ev.EVENT_SETS[name].parts:
        ds = ev.open_part(name, folder, part.name)
        for i in range(len(ds)):
            got, label = ds[i]
            sample = written[ds.data[i]]
            assert label == sample.label and sample.part == part.name
            for field in "xytp":
                assert np.array_equal(np.asarray(got[field]).astype(np.int64), sample.events[field]), field
            seen += 1
    assert seen == len(written)


# --- frames: hand counts -----------------------------------------------------------------------------

# Ten events: three slices by count hold 3 + 3 + 3 (the 10th is dropped: N // T per slice, tonic's rule);
# by time, (t_last - t_first) // 3 = 30 us per slice puts the first nine in slice 0.
TEN = events((5, 7, 1, 0), (5, 7, 1, 1), (1, 2, 0, 2),
             (5, 7, 0, 3), (33, 33, 1, 4), (33, 33, 1, 5),
             (0, 0, 0, 6), (0, 0, 0, 7), (0, 0, 1, 8),
             (3, 3, 1, 90))


def test_frames_by_count_and_by_time_against_a_hand_count(tmp_path):
    write_nmnist(tmp_path, events=TEN)  # the first training recording of digit 0
    by_count = frames_of(build_datasets(event_cfg("nmnist", tmp_path, "T=3", "data.split=test"))[0], "0/00001.bin")
    assert by_count.shape == (3, 2, 34, 34) and by_count.dtype == torch.int16
    expected = torch.zeros(3, 2, 34, 34, dtype=torch.int16)
    expected[0, 1, 7, 5], expected[0, 0, 2, 1] = 2, 1  # [frame, polarity (0 OFF, 1 ON), y, x]
    expected[1, 0, 7, 5], expected[1, 1, 33, 33] = 1, 2
    expected[2, 0, 0, 0], expected[2, 1, 0, 0] = 2, 1
    assert torch.equal(by_count, expected)

    by_time = frames_of(build_datasets(event_cfg("nmnist", tmp_path, "T=3", "data.split=test",
                                                 "data.frames_by=time"))[0], "0/00001.bin")
    assert torch.equal(by_time[0], expected.sum(0)) and by_time[1:].sum() == 0


def test_resize_sums_the_events_of_the_sensor_pixels_it_covers(tmp_path):
    first = events((4, 6, 1, 0), (5, 7, 1, 1000), (126, 0, 0, 2000), (127, 1, 0, 3000))
    write_dvs128_gesture(tmp_path, events=first)  # user01, gesture 0
    train, _, info = build_datasets(event_cfg("dvs128_gesture", tmp_path, "T=1", "data.resize=64", "data.split=test"))
    assert info.img_size == 64
    frame = frames_of(train, "user01_fluorescent/0.npy")[0]
    assert frame.shape == (2, 64, 64) and int(frame.sum()) == 4
    assert frame[1, 3, 2] == 2 and frame[0, 0, 63] == 2  # (4,6), (5,7) -> (2,3); (126,0), (127,1) -> (63,0)
    # 128 -> 48 does not divide: every event still lands on one pixel.
    frames = integrate(first, 128, 2, "count", 48)
    assert frames.shape == (2, 2, 48, 48) and frames.sum() == 4


def test_loader_gives_float_counts_time_first(tmp_path):
    write_dvs128_gesture(tmp_path, events_per_sample=40)
    cfg = event_cfg("dvs128_gesture", tmp_path, "data.resize=16", "train.batch_size=4", "data.split=test")
    train, _, _ = build_datasets(cfg)
    x, y = next(iter(make_loader(train, cfg, train=True, device=torch.device("cpu"))))
    assert x.shape == (2, 4, 2, 16, 16) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert float(x.sum()) == 4 * 40 and torch.equal(x, x.round())  # counts, not normalised


# --- the cache -----------------------------------------------------------------------------------------

def test_second_load_reads_the_cache_and_no_event_file(tmp_path):
    write_dvs128_gesture(tmp_path)
    cfg = event_cfg("dvs128_gesture", tmp_path, "data.resize=16", "data.split=test")
    first_train, first_val, _ = build_datasets(cfg)
    for part in ("ibmGestureTrain", "ibmGestureTest"):
        shutil.rmtree(tmp_path / "DVSGesture" / part)
    again_train, again_val, _ = build_datasets(cfg)
    for a, b in ((first_train, again_train), (first_val, again_val)):
        assert torch.equal(a.labels, b.labels)
        assert all(torch.equal(a.dataset[i][0], b.dataset[i][0]) for i in range(len(a)))
    cache = tmp_path / "DVSGesture" / "frames"
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == [
        "test-T2-count-16px", "train-T2-count-16px"]
    # Another T is another cache, which needs the (now deleted) recordings.
    with pytest.raises(DataUnavailableError, match="ibmGestureTrain"):
        build_datasets(event_cfg("dvs128_gesture", tmp_path, "data.resize=16", "T=3"))


def test_half_written_caches_are_never_read(tmp_path, monkeypatch):
    write_nmnist(tmp_path)
    cfg = event_cfg("nmnist", tmp_path, "data.resize=16", "data.split=test")
    cache = tmp_path / "NMNIST" / "frames"
    # A build killed half-way: only a temporary folder remains, and it is not the cache.
    calls = []

    def dies_on_the_fifth(*args):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return integrate(*args)

    monkeypatch.setattr(neuromorphic, "integrate", dies_on_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        build_datasets(cfg)
    assert not (cache / "train-T2-count-16px").exists()
    assert [p for p in cache.iterdir() if ".tmp-" in p.name] == []  # cleaned up on the way out
    monkeypatch.setattr(neuromorphic, "integrate", integrate)
    # Leftovers of a killed process (no cleanup) and a final-named folder without its meta are ignored.
    (cache / ".train-T2-count-16px.tmp-999-deadbeef").mkdir()
    np.save(cache / ".train-T2-count-16px.tmp-999-deadbeef" / "frames.npy", np.ones((30, 2, 2, 16, 16), np.int16))
    partial_final = cache / "test-T2-count-16px"
    partial_final.mkdir()
    np.save(partial_final / "frames.npy", np.full((10, 2, 2, 16, 16), 99, np.int16))
    train, val, _ = build_datasets(cfg)
    assert (len(train), len(val)) == (30, 10)
    assert int(val.dataset[0][0].sum()) == 200  # the written recording's 200 events, not the planted 99s
    assert is_complete(partial_final, FrameKey("nmnist", "test", 2, "count", 16))


def _build_once(directory: str, marker: str, _worker: int) -> int:
    key = FrameKey("toy", "all", 1, "count", 2)

    def build(writer):
        import time

        with open(marker, "a") as f:
            f.write("built\n")
        time.sleep(0.3)  # long enough for the other process to arrive while this one builds
        writer.frames[:] = 7
        writer.labels[:] = 1
        writer.files[:] = ["a", "b"]

    folder = load_or_build(Path(directory), key, count=lambda: 2, build=build)
    return int(np.load(folder / "frames.npy").sum())


def test_concurrent_builders_build_once_and_read_the_same_cache(tmp_path):
    marker = tmp_path / "builds.txt"
    with multiprocessing.get_context("fork").Pool(2) as pool:
        sums = pool.map(partial(_build_once, str(tmp_path / "cache"), str(marker)), [0, 1])
    assert sums == [7 * 2 * 2 * 2 * 2] * 2
    assert marker.read_text().count("built") == 1


def test_parallel_integration_matches_serial(tmp_path):
    write_dvs128_gesture(tmp_path)
    serial = build_datasets(event_cfg("dvs128_gesture", tmp_path, "data.resize=8", "data.split=test"))[0]
    parallel = build_datasets(event_cfg("dvs128_gesture", tmp_path, "data.resize=8", "data.split=test",
                                        "data.num_workers=2", f"data.frames_cache={tmp_path / 'other'}"))[0]
    assert (tmp_path / "other" / "dvs128_gesture" / "train-T2-count-8px" / "meta.json").is_file()
    assert parallel.dataset.files == serial.dataset.files
    assert all(torch.equal(parallel.dataset[i][0], serial.dataset[i][0]) for i in range(len(serial)))


# --- splits ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,split,sizes", [
    ("dvs128_gesture", "test", (44, 11)), ("dvs128_gesture", "stratified", (33, 11)),
    ("dvs128_gesture", "all", (55, 55)),
    ("cifar10_dvs", "test", (90, 10)), ("cifar10_dvs", "stratified", (72, 18)), ("cifar10_dvs", "all", (100, 100)),
    ("nmnist", "test", (30, 10)), ("nmnist", "stratified", (20, 10)),
])
def test_split_sizes_and_labels(tmp_path, name, split, sizes):
    extra = {"dvs128_gesture": {"train_users": 4}, "cifar10_dvs": {}, "nmnist": {}}[name]
    WRITERS[name](tmp_path, events_per_sample=20, **extra)
    fraction = {"dvs128_gesture": 0.25, "cifar10_dvs": 0.2, "nmnist": 0.33}[name]
    train, val, info = build_datasets(event_cfg(name, tmp_path, "data.resize=8", f"data.split={split}",
                                                f"data.val_fraction={fraction}"))
    assert (len(train), len(val)) == sizes
    for ds in (train, val):
        assert set(ds.labels.tolist()) == set(range(info.num_classes))
    if split == "stratified":  # validation is carved from the training part only
        assert not any("Test" in f or f.endswith("_9.aedat4") for f in val.dataset.files)
    if name == "cifar10_dvs" and split == "test":
        # Spikformer's split: the last 10% of every class in file-name order is the test part.
        assert sorted(val.dataset.files) == sorted(f"{c}/cifar10_{c}_9.aedat4" for c in
                                                   ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                                    "horse", "ship", "truck"))


def test_event_geometry_needs_no_files_and_checks_options():
    info = dataset_info(load_config("spikformer-2-256").data)
    assert (info.name, info.num_classes, info.in_channels, info.img_size, info.event) == ("dvs128_gesture", 11, 2, 128, True)
    dc = load_config("spikformer-2-256", ["data=nmnist", "num_classes=10", "img_size=32", "data.resize=32"]).data
    assert (dataset_info(dc).num_classes, dataset_info(dc).img_size) == (10, 32)
    with pytest.raises(ConfigError, match=r"unknown data.frames_by 'events'; expected one of: count, time"):
        with_data_geometry(load_config("spikformer-2-256", ["data.frames_by=events"], check=False))
    with pytest.raises(ConfigError, match=r"data.resize=256 is larger than the 128x128 sensor"):
        with_data_geometry(load_config("spikformer-2-256", ["data.resize=256", "img_size=null"], check=False))


# --- absent files and downloads --------------------------------------------------------------------------

@pytest.mark.parametrize("name,needs", [
    ("dvs128_gesture", ["'ibmGestureTrain/'", "ibmGestureTrain.tar.gz", "ibmGestureTest.tar.gz", "figshare"]),
    ("cifar10_dvs", ["'<class>/' with its .aedat4 files", "CIFAR10DVS.zip", "ce3a4a0682dc0943703bd8f749a7701c"]),
    ("nmnist", ["'Train/'", "train.zip", "test.zip", "mendeley"]),
])
def test_offline_and_absent_names_folder_files_and_source(tmp_path, name, needs):
    with pytest.raises(DataUnavailableError) as err:
        build_datasets(event_cfg(name, tmp_path))
    message = str(err.value)
    folder = tmp_path / ev.EVENT_SETS[name].tonic_class
    assert f"not found in '{folder}' (data.download=false)" in message and "\n" not in message
    for piece in needs:
        assert piece in message
    assert not folder.exists()  # nothing written before the error


def test_train_cli_without_files_exits_2_with_the_message(tmp_path, capsys):
    from fwformer.train import main

    with pytest.raises(SystemExit) as exit_:
        main(["--config", "spikformer-2-256", "data=dvs128_gesture", f"data.root={tmp_path}", "data.download=false",
              "--out", str(tmp_path / "run")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: dataset 'dvs128_gesture' not found in") and "ibmGestureTrain.tar.gz" in err
    assert not (tmp_path / "run").exists()


def _zip_part(src: Path, part: str, archive: Path) -> str:
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted((src / "NMNIST" / part).rglob("*.bin")):
            z.write(path, path.relative_to(src / "NMNIST"))
    return hashlib.md5(archive.read_bytes()).hexdigest()


@pytest.fixture
def served(tmp_path):
    """A loopback HTTP server over tmp_path/served (tonic's downloader needs HTTP)."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_through_tonic_checks_md5_and_extracts(tmp_path, served, monkeypatch):
    import tonic.datasets

    folder, url = served
    write_nmnist(tmp_path / "src")
    md5 = {part: _zip_part(tmp_path / "src", part, folder / f"{part.lower()}.zip") for part in ("Train", "Test")}
    monkeypatch.setattr(tonic.datasets.NMNIST, "train_url", f"{url}/train.zip")
    monkeypatch.setattr(tonic.datasets.NMNIST, "test_url", f"{url}/test.zip")
    monkeypatch.setattr(tonic.datasets.NMNIST, "train_md5", "0" * 32)
    monkeypatch.setattr(tonic.datasets.NMNIST, "test_md5", md5["Test"])
    root = tmp_path / "root"
    with pytest.raises(DataUnavailableError, match=r"download of .*/train.zip failed the md5 check"):
        build_datasets(event_cfg("nmnist", root, "data.download=true"))
    assert not (root / "NMNIST" / "train.zip").exists()
    monkeypatch.setattr(tonic.datasets.NMNIST, "train_md5", md5["Train"])
    train, val, _ = build_datasets(event_cfg("nmnist", root, "data.download=true", "data.split=test"))
    assert (len(train), len(val)) == (30, 10)
    assert (root / "NMNIST" / "Train" / "9").is_dir() and (root / "NMNIST" / "train.zip").is_file()


def test_archive_put_in_the_folder_by_hand_is_checked_and_extracted_offline(tmp_path, monkeypatch):
    import tonic.datasets

    folder = tmp_path / "NMNIST"
    folder.mkdir()
    write_nmnist(tmp_path / "src")
    for part in ("Train", "Test"):
        md5 = _zip_part(tmp_path / "src", part, folder / f"{part.lower()}.zip")
        monkeypatch.setattr(tonic.datasets.NMNIST, f"{part.lower()}_md5", md5)
    monkeypatch.setattr(tonic.datasets.NMNIST, "train_url", "http://127.0.0.1:9/unreachable")
    assert len(build_datasets(event_cfg("nmnist", tmp_path, "data.split=test"))[0]) == 30
    (folder / "train.zip").write_bytes(b"not the archive")
    shutil.rmtree(folder / "Train")
    shutil.rmtree(folder / "frames")
    with pytest.raises(DataUnavailableError, match=r"train.zip' has the wrong md5"):
        build_datasets(event_cfg("nmnist", tmp_path))


# --- the training CLI on the genuine format -------------------------------------------------------------

def test_train_cli_trains_spikformer_2_256_on_gesture_files(tmp_path):
    from fwformer.train import main

    write_dvs128_gesture(tmp_path, events_per_sample=50)
    result = main(["--config", "spikformer-2-256", "data=dvs128_gesture", f"data.root={tmp_path}",
                   "data.download=false", "data.num_workers=0", "data.resize=32", "img_size=32", "data.split=test", "T=2",
                   "embed_dim=32",
                   "num_heads=4", "train.epochs=1", "train.max_steps_per_epoch=2", "train.batch_size=2",
                   "train.energy_batches=1", "--out", str(tmp_path / "run"), "--quiet"])
    assert result["dataset"] == "dvs128_gesture" and (result["num_train"], result["num_val"]) == (22, 11)
    assert np.isfinite(result["val_acc"]) and result["energy_mj"] > 0
