"""Datasets: shapes, dtypes, label ranges, splits, loaders, augmentations and their errors."""
from __future__ import annotations

import hashlib
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from formats import write_cifar_folder
import torch

from fwformer.cli import ConfigError
from fwformer.config import load_config, resolve_device
from fwformer.data import DataUnavailableError, build_datasets, dataset_info, make_loader, with_data_geometry
from fwformer.data import cifar
from fwformer.data.augment import build_augment, mix_batch, random_crop, random_hflip
from fwformer.model import build_model

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def cfg_for(*overrides: str, preset: str = "tiny"):
    return with_data_geometry(load_config(preset, list(overrides), check=False))


# --- digits ---------------------------------------------------------------------------------------

def test_digits_shapes_labels_and_stratified_split():
    cfg = cfg_for("data=digits")
    train, val, info = build_datasets(cfg)
    assert (info.num_classes, info.in_channels, info.img_size, info.event) == (10, 1, 8, False)
    assert (len(train), len(val)) == (1437, 360)
    assert train.images.shape == (1437, 1, 8, 8) and train.images.dtype == torch.float32
    assert 0.0 <= float(train.images.min()) and float(train.images.max()) <= 1.0
    assert set(train.labels.tolist()) == set(range(10)) == set(val.labels.tolist())
    # Stratified: every class keeps ~20% of its samples in validation.
    counts = torch.bincount(val.labels, minlength=10).float() / (torch.bincount(train.labels, minlength=10) + torch.bincount(val.labels, minlength=10))
    assert torch.all((counts - 0.2).abs() < 0.02)


def test_split_is_seeded():
    a = build_datasets(cfg_for("data=digits"))[1].labels
    b = build_datasets(cfg_for("data=digits"))[1].labels
    c = build_datasets(cfg_for("data=digits", "data.seed=1"))[1]
    assert torch.equal(a, b)
    assert len(c) == 360 and not torch.equal(c.images, build_datasets(cfg_for("data=digits"))[1].images)


def test_loader_batches_are_normalised_shuffled_per_epoch_and_cover_validation():
    cfg = cfg_for("data=digits", "train.batch_size=100")
    train, val, _ = build_datasets(cfg)
    loader = make_loader(train, cfg, train=True, device=torch.device("cpu"))
    x, y = next(iter(loader))
    assert x.shape == (100, 1, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert abs(float(x.mean())) < 0.3 and 0.7 < float(x.std()) < 1.3
    assert len(loader) == 1437 // 100  # drop_last when training
    first = next(iter(loader))[1]
    loader.set_epoch(1)
    assert not torch.equal(first, next(iter(loader))[1])
    loader.set_epoch(0)
    assert torch.equal(first, next(iter(loader))[1])
    val_loader = make_loader(val, cfg, train=False, device=torch.device("cpu"))
    labels = torch.cat([y for _, y in val_loader])
    assert torch.equal(labels, val.labels)


# --- digits_dvs (the offline event path) ------------------------------------------------------------

def test_digits_dvs_frames_follow_T_and_have_two_polarities():
    cfg = cfg_for("data=digits_dvs", "in_channels=null", "T=3", "train.batch_size=8")
    assert cfg.in_channels == 2 and cfg.img_size == 8
    train, val, info = build_datasets(cfg)
    assert info.event and (len(train), len(val)) == (1437, 360)
    assert train.images.shape == (1437, 3, 2, 8, 8)
    assert float(train.images.min()) >= 0 and float(train.images.mean()) > 0.1  # real events, not noise only
    on, off = train.images[:, :, 0].sum(), train.images[:, :, 1].sum()
    assert on > 0 and off > 0
    x, y = next(iter(make_loader(train, cfg, train=True, device=torch.device("cpu"))))
    assert x.shape == (3, cfg.train.batch_size, 2, 8, 8) and y.max() < 10
    logits = build_model(cfg)(x)
    assert logits.shape == (cfg.train.batch_size, 10)


def test_digits_dvs_events_depend_on_the_digit():
    cfg = cfg_for("data=digits_dvs", "in_channels=2")
    train, _, _ = build_datasets(cfg)
    per_class = torch.stack([train.images[train.labels == c].mean(0) for c in range(10)])
    assert (per_class[0] - per_class[1]).abs().sum() > 1.0


def test_digits_dvs_with_resize():
    cfg = cfg_for("data=digits_dvs", "in_channels=null", "img_size=null", "data.resize=16", "sps_pools=1")
    train, _, info = build_datasets(cfg)
    assert info.img_size == 16 and train.images.shape[-2:] == (16, 16)


def test_tiny_preset_channels_disagree_with_digits_dvs():
    with pytest.raises(ConfigError, match=r"in_channels=1 in the config, but dataset 'digits_dvs' has in_channels=2"):
        cfg_for("data=digits_dvs")


# --- CIFAR in the real python-version format, written by the test -----------------------------------

def _write_cifar(root: Path, name: str, per_batch: int = 20) -> Path:
    return write_cifar_folder(root, name, per_batch)


def test_cifar10_reads_the_canonical_folder(tmp_path):
    root = tmp_path
    _write_cifar(root, "cifar10")
    cfg = cfg_for("data=cifar10", f"data.root={root}", "data.download=false", "data.split=test",
                  "img_size=null", "in_channels=null", "num_classes=null", "sps_pools=2", preset="tiny")
    train, val, info = build_datasets(cfg)
    assert (info.num_classes, info.in_channels, info.img_size) == (10, 3, 32)
    assert (len(train), len(val)) == (100, 20)
    assert train.images.dtype == torch.uint8 and train.images.shape == (100, 3, 32, 32)
    assert train.images[0, :, 0, 0].tolist() == [10, 20, 30]  # channel-major rows decoded as [C, H, W]
    assert train.labels.max() == 9 and train.labels.min() == 0
    stratified = build_datasets(replace(cfg, data=replace(cfg.data, split="stratified")))
    assert (len(stratified[0]), len(stratified[1])) == (80, 20)
    x, y = next(iter(make_loader(train, cfg, train=True, device=torch.device("cpu"))))
    assert x.shape == (cfg.train.batch_size, 3, 32, 32) and x.dtype == torch.float32


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_split_test_trains_on_every_training_image_and_validates_on_the_official_test_set(tmp_path, name):
    """`data.split=test`, the papers' protocol: all of data_batch_1..5 (`train`) for training,
    exactly `test_batch` (`test`) for validation, in file order."""
    import pickle

    folder = _write_cifar(tmp_path, name, per_batch=30)
    spec = cifar.SPECS[name]
    cfg = cfg_for(f"data={name}", f"data.root={tmp_path}", "data.download=false", "data.split=test",
                  "img_size=null", "in_channels=null", "num_classes=null", "sps_pools=2")
    train, val, _ = build_datasets(cfg)

    def read(files):
        batches = [pickle.loads((folder / f).read_bytes(), encoding="bytes") for f in files]
        images = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32)
        return torch.from_numpy(images), torch.tensor(sum((b[spec.label_key.encode()] for b in batches), []))

    for part, files in ((train, spec.train_files), (val, spec.test_files)):
        images, labels = read(files)
        assert torch.equal(part.images, images) and torch.equal(part.labels, labels)
    assert (part.mean, part.std) == (spec.mean, spec.std)


def test_cifar100_fine_labels(tmp_path):
    _write_cifar(tmp_path, "cifar100", per_batch=200)
    cfg = cfg_for("data=cifar100", f"data.root={tmp_path}", "data.download=false", "data.split=test",
                  "img_size=32", "in_channels=3", "num_classes=100", "sps_pools=2")
    train, val, info = build_datasets(cfg)
    assert info.num_classes == 100 and (len(train), len(val)) == (200, 200)
    assert int(train.labels.max()) == 99


def _archive(tmp_path: Path, name: str) -> tuple[Path, str]:
    src = tmp_path / "src"
    _write_cifar(src, name)
    archive = tmp_path / "archive" / cifar.SPECS[name].archive
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / cifar.SPECS[name].folder, arcname=cifar.SPECS[name].folder)
    return archive, hashlib.md5(archive.read_bytes()).hexdigest()


def test_cifar_downloads_checks_md5_and_extracts(tmp_path, monkeypatch):
    archive, md5 = _archive(tmp_path, "cifar10")
    monkeypatch.setitem(cifar.SPECS, "cifar10", replace(cifar.SPECS["cifar10"], url=archive.as_uri(), md5=md5))
    root = tmp_path / "root"
    cfg = cfg_for("data=cifar10", f"data.root={root}", "img_size=32", "in_channels=3", "sps_pools=2")
    train, val, _ = build_datasets(cfg)
    assert (len(train), len(val)) == (80, 20)
    assert (root / "cifar-10-batches-py" / "data_batch_1").is_file()
    assert (root / "cifar-10-python.tar.gz").is_file()


def test_cifar_download_with_a_wrong_md5_fails(tmp_path, monkeypatch):
    archive, _ = _archive(tmp_path, "cifar10")
    monkeypatch.setitem(cifar.SPECS, "cifar10", replace(cifar.SPECS["cifar10"], url=archive.as_uri(), md5="0" * 32))
    cfg = cfg_for("data=cifar10", f"data.root={tmp_path / 'root'}", "img_size=32", "in_channels=3", "sps_pools=2")
    with pytest.raises(DataUnavailableError, match="md5"):
        build_datasets(cfg)
    assert not (tmp_path / "root" / "cifar-10-python.tar.gz").exists()


def test_cifar_archive_put_in_root_by_hand_is_extracted(tmp_path, monkeypatch):
    archive, md5 = _archive(tmp_path, "cifar10")
    monkeypatch.setitem(cifar.SPECS, "cifar10", replace(cifar.SPECS["cifar10"], md5=md5))
    cfg = cfg_for("data=cifar10", f"data.root={archive.parent}", "data.download=false", "img_size=32",
                  "in_channels=3", "sps_pools=2")
    assert len(build_datasets(cfg)[0]) == 80


def test_cifar_offline_and_absent_names_folder_file_and_destination(tmp_path, monkeypatch):
    cfg = cfg_for("data=cifar10", f"data.root={tmp_path}", "data.download=false", "img_size=32", "in_channels=3",
                  "sps_pools=2")
    with pytest.raises(DataUnavailableError) as err:
        build_datasets(cfg)
    message = str(err.value)
    assert "cifar-10-batches-py" in message and "cifar-10-python.tar.gz" in message and str(tmp_path) in message
    assert "\n" not in message
    # An unreachable download says the same, with the reason.
    monkeypatch.setitem(cifar.SPECS, "cifar10", replace(cifar.SPECS["cifar10"], url="http://127.0.0.1:9/cifar-10-python.tar.gz"))
    cfg = replace(cfg, data=replace(cfg.data, download=True))
    with pytest.raises(DataUnavailableError, match=r"download failed.*cifar-10-python.tar.gz"):
        build_datasets(cfg)


# --- npz -------------------------------------------------------------------------------------------

def _write_npz(path: Path, layout: str, n: int = 60, size: int = 8, channels: int = 1, **extra) -> Path:
    rng = np.random.default_rng(0)
    shape = {"nchw": (n, channels, size, size), "nhwc": (n, size, size, channels), "nhw": (n, size, size)}[layout]
    np.savez(path, images=rng.integers(0, 256, size=shape, dtype=np.uint8), labels=np.arange(n) % 3, **extra)
    return path


@pytest.mark.parametrize("layout,channels", [("nchw", 3), ("nhwc", 3), ("nhw", 1)])
def test_npz_layouts_and_split(tmp_path, layout, channels):
    path = _write_npz(tmp_path / "a.npz", layout, channels=channels)
    cfg = cfg_for("data=npz", f"data.path={path}", "num_classes=null", "in_channels=null")
    train, val, info = build_datasets(cfg)
    assert (info.num_classes, info.in_channels, info.img_size) == (3, channels, 8)
    assert (len(train), len(val)) == (48, 12)
    assert train.images.shape == (48, channels, 8, 8) and train.images.dtype == torch.uint8
    all_train, all_val, _ = build_datasets(replace(cfg, data=replace(cfg.data, split="all")))
    assert len(all_val) == 60


def test_npz_declared_classes_and_model_with_more_classes(tmp_path):
    path = _write_npz(tmp_path / "a.npz", "nhw")
    assert cfg_for("data=npz", f"data.path={path}").num_classes == 10  # labels 0-2 fit a 10-class model
    declared = _write_npz(tmp_path / "b.npz", "nhw", classes=np.array(list("abcd")))
    with pytest.raises(ConfigError, match=r"num_classes=10 in the config, but dataset 'npz' has num_classes=4"):
        cfg_for("data=npz", f"data.path={declared}")


def test_npz_errors(tmp_path):
    with pytest.raises(ConfigError, match="needs data.path"):
        cfg_for("data=npz")
    with pytest.raises(DataUnavailableError, match="does not exist"):
        cfg_for("data=npz", f"data.path={tmp_path / 'nope.npz'}")
    np.savez(tmp_path / "bad.npz", images=np.zeros((4, 3, 8, 6), np.uint8), labels=np.zeros(4, int))
    with pytest.raises(ConfigError, match="must be square"):
        cfg_for("data=npz", f"data.path={tmp_path / 'bad.npz'}")
    np.savez(tmp_path / "short.npz", images=np.zeros((4, 8, 8), np.uint8), labels=np.zeros(3, int))
    with pytest.raises(ConfigError, match="4 samples but `labels` has 3"):
        cfg_for("data=npz", f"data.path={tmp_path / 'short.npz'}")
    np.savez(tmp_path / "nolabels.npz", images=np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(ConfigError, match="array named 'labels'"):
        cfg_for("data=npz", f"data.path={tmp_path / 'nolabels.npz'}")


# Every way an npz file can be wrong, each one error line naming the file, before anything is written.
def _not_a_zip(path):
    path.write_bytes(b"images,labels\n1,2\n")


def _npy_not_npz(path):
    with open(path, "wb") as f:
        np.save(f, np.zeros((4, 8, 8), np.uint8))


def _object_images(path):
    images = np.empty(4, dtype=object)
    images[:] = [np.zeros((8, 8), np.uint8) for _ in range(4)]
    np.savez(path, images=images, labels=np.zeros(4, int))


def _object_labels(path):
    np.savez(path, images=np.zeros((4, 8, 8), np.uint8), labels=np.array([0, "1", 2, None], dtype=object))


def _object_classes(path):
    np.savez(path, images=np.zeros((4, 8, 8), np.uint8), labels=np.zeros(4, int),
             classes=np.array(["a", 1], dtype=object))


def _truncated(path):
    np.savez(path, images=np.zeros((40, 8, 8), np.uint8), labels=np.zeros(40, int))
    path.write_bytes(path.read_bytes()[:300])


NPZ_FAULTS = {
    "not a zip": (_not_a_zip, "is not a readable .npz file"),
    "a .npy file": (_npy_not_npz, "is not a readable .npz file"),
    "truncated": (_truncated, "is not a readable .npz file"),
    "object images": (_object_images, "`images` is an object array"),
    "object labels": (_object_labels, "`labels` is an object array"),
    "object classes": (_object_classes, "`classes` is an object array"),
    "wrong shape": (lambda p: np.savez(p, images=np.zeros((4, 3, 8, 6), np.uint8), labels=np.zeros(4, int)),
                    "must be square"),
    "labels of another length": (lambda p: np.savez(p, images=np.zeros((4, 8, 8), np.uint8),
                                                    labels=np.zeros(3, int)), "4 samples but `labels` has 3"),
    "float labels": (lambda p: np.savez(p, images=np.zeros((4, 8, 8), np.uint8), labels=np.zeros(4)),
                     "`labels` must be a 1-D integer array, but is float64"),
    "no labels": (lambda p: np.savez(p, images=np.zeros((4, 8, 8), np.uint8)), "array named 'labels'"),
    "no samples": (lambda p: np.savez(p, images=np.zeros((0, 8, 8), np.uint8), labels=np.zeros(0, int)),
                   "holds no samples"),
}


@pytest.mark.parametrize("fault", NPZ_FAULTS)
def test_bad_npz_through_the_train_cli_is_one_line_and_writes_nothing(tmp_path, capsys, fault):
    from fwformer.train import main

    write, message = NPZ_FAULTS[fault]
    path = tmp_path / "bad.npz"
    write(path)
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as err:
        main(["--config", "tiny", "data=npz", f"data.path={path}", "--out", str(out), "--quiet"])
    stderr = capsys.readouterr().err
    assert err.value.code == 2 and stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert message in stderr and str(path) in stderr
    assert not out.exists()


@pytest.fixture(scope="module")
def trained_tiny(tmp_path_factory):
    from fwformer.train import train

    out = tmp_path_factory.mktemp("tiny_run")
    train(load_config("tiny", ["data=digits", "train.epochs=1", "train.max_steps_per_epoch=1",
                               "train.energy_batches=1"], check=False), out_dir=out, progress=False)
    return out


@pytest.mark.parametrize("fault", ["not a zip", "object images", "object labels", "no samples"])
def test_bad_npz_through_the_evaluate_cli_is_one_line(tmp_path, capsys, trained_tiny, fault):
    from fwformer.evaluate import main

    write, message = NPZ_FAULTS[fault]
    path = tmp_path / "bad.npz"
    write(path)
    with pytest.raises(SystemExit) as err:
        main(["--checkpoint", str(trained_tiny), "data=npz", f"data.path={path}", "data.split=all"])
    stderr = capsys.readouterr().err
    assert err.value.code == 2 and stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert message in stderr and str(path) in stderr


@pytest.mark.skipif(not (SHARED_DATA / "cifar10_train_subset.npz").is_file(), reason="../shared/data is absent")
def test_npz_cifar_subset_from_shared_data():
    path = SHARED_DATA / "cifar10_train_subset.npz"
    cfg = cfg_for("data=npz", f"data.path={path}", preset="cifar-small")
    train, val, info = build_datasets(cfg)
    assert (info.num_classes, info.in_channels, info.img_size) == (10, 3, 32)
    assert (len(train), len(val)) == (4068, 1017)
    assert set(val.labels.tolist()) == set(range(10))


# The recorded event sets (dvs128_gesture, cifar10_dvs, nmnist) are tested in test_event_data.py.


# --- config errors ---------------------------------------------------------------------------------

def test_unknown_dataset_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"unknown dataset 'digit' \(did you mean: digits"):
        cfg_for("data=digit")


def test_mismatched_geometry_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"num_classes=100 in the config, but dataset 'digits' has num_classes=10"):
        cfg_for("data=digits", "num_classes=100")
    with pytest.raises(ConfigError, match=r"img_size=16 in the config.*img_size=8.*data.resize"):
        cfg_for("data=digits", "img_size=16")


def test_bad_data_options():
    with pytest.raises(ConfigError, match="unknown data.split 'train'"):
        cfg_for("data=digits", "data.split=train")
    with pytest.raises(ConfigError, match=r"data.split=test \(train on the official training part, validate on the "
                                          r"official test part\) needs"):
        cfg_for("data=digits", "data.split=test")
    with pytest.raises(ConfigError, match="val_fraction"):
        cfg_for("data=digits", "data.val_fraction=1.5")
    with pytest.raises(ConfigError, match="randaugment works on images"):
        cfg_for("data=digits_dvs", "in_channels=2", "data.randaugment=true")
    with pytest.raises(ConfigError, match="random_erasing is a probability"):
        cfg_for("data=digits", "data.random_erasing=2")
    with pytest.raises(ConfigError, match="train.device"):
        resolve_device("tpu")


# --- augmentations ---------------------------------------------------------------------------------

def test_random_crop_shifts_each_sample_within_the_padding():
    torch.manual_seed(0)
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).reshape(2, 1, 6, 6) + 1
    out = random_crop(x, 2)
    assert out.shape == x.shape
    for i in range(2):
        nonzero = out[i, 0][out[i, 0] > 0]
        assert set(nonzero.tolist()) <= set(x[i, 0].flatten().tolist())
    assert torch.equal(random_crop(x, 0), x)


def test_hflip_and_randaugment_keep_shapes():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 8, 8)
    flipped = random_hflip(x)
    assert all(torch.equal(flipped[i], x[i]) or torch.equal(flipped[i], x[i].flip(-1)) for i in range(16))
    for channels, name in ((3, "cifar10"), (1, "digits")):
        for policy in ("spikformer", "kornia-default"):
            cfg = load_config("tiny", [f"data={name}", "data.randaugment=true", "data.crop_padding=1",
                                       "data.hflip=true", f"data.randaugment_policy={policy}"], check=False)
            augment = build_augment(cfg.data, dataset_info(cfg.data))
            y = augment(torch.rand(8, channels, 8, 8))
            assert y.shape == (8, channels, 8, 8) and torch.isfinite(y).all()


def test_mix_batch_gives_probability_targets():
    torch.manual_seed(0)
    x, y = torch.rand(8, 1, 8, 8), torch.arange(8) % 4
    for mixup, cutmix in ((0.5, 0.0), (0.0, 1.0), (0.5, 1.0)):
        xm, target = mix_batch(x, y, 4, mixup=mixup, cutmix=cutmix)
        assert xm.shape == x.shape and target.shape == (8, 4)
        assert torch.allclose(target.sum(1), torch.ones(8))
    frames = torch.rand(2, 8, 2, 8, 8)
    xm, _ = mix_batch(frames, y, 4, mixup=0.5)
    assert xm.shape == frames.shape
    same, target = mix_batch(x, y, 4)
    assert same is x and torch.equal(target.argmax(1), y)


def test_default_root_is_the_users_cache_or_fwformer_data(monkeypatch, tmp_path):
    from fwformer.data import default_root

    monkeypatch.delenv("FWFORMER_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_root() == tmp_path / "fwformer" / "datasets"
    monkeypatch.setenv("FWFORMER_DATA", str(tmp_path / "d"))
    assert default_root() == tmp_path / "d"
