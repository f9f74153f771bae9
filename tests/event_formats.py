"""Small event-camera datasets written in the on-disk formats that tonic reads after extraction, for
tests that read them back through tonic and our frame integration (no network, no stand-in classes).

- `write_dvs128_gesture(root)`: `DVSGesture/ibmGestureTrain/userNN_<lighting>/<label>.npy` (and
  `ibmGestureTest/`), as tonic's preprocessed copy of IBM's set extracts: one recording per file,
  an `[N, 4]` integer array with columns x, y, p, t in milliseconds (tonic multiplies t by 1000),
  the label in the file name, one file per gesture per user folder.
- `write_cifar10_dvs(root)`: `CIFAR10DVS/<class>/cifar10_<class>_<i>.aedat4`, AEDAT 4.0 files
  (iniVation's container: magic line, a FlatBuffers `Ioheader` with the XML stream description,
  then size-prefixed `EventPacket` FlatBuffers of 16-byte `{t: int64, x: int16, y: int16, on: bool}`
  structs), decoded by the `aedat` package that tonic calls.
- `write_nmnist(root)`: `NMNIST/Train/<digit>/<id>.bin` and `Test/`, Orchard's 40-bit events
  (x, y, polarity bit + 23-bit microsecond timestamp, big-endian).

Each writer returns the `Sample`s it wrote (path, label, part, events), in the order of their paths,
so a test can count frames by hand. Events are a structured array with fields x, y, t (microseconds),
p (0 = OFF, 1 = ON), sorted by t. `events=` replaces the recording of the first sample written: class
0 of the first training user (`ibmGestureTrain/user01_fluorescent/0.npy`), of airplane
(`airplane/cifar10_airplane_0.aedat4`), of digit 0 (`Train/0/00001.bin`).

Sizes for a search test: `data.split=stratified` needs at least one validation sample per class,
e.g. `write_dvs128_gesture(root, train_users=5)` for `val_fraction=0.2` (55 training recordings).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

EVENT_DTYPE = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
GESTURE_LIGHTING = ("fluorescent", "fluorescent_led", "lab", "led", "natural")


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int
    part: str  # "train" | "test" | "all"
    events: np.ndarray  # EVENT_DTYPE, sorted by t


def make_events(n: int, size: int, *, seed: int, duration_us: int = 200_000, step_us: int = 1) -> np.ndarray:
    """`n` random events on a `size x size` sensor with increasing timestamps (multiples of step_us)."""
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, EVENT_DTYPE)
    ev["x"] = rng.integers(0, size, n)
    ev["y"] = rng.integers(0, size, n)
    ev["p"] = rng.integers(0, 2, n)
    ev["t"] = np.sort(rng.integers(0, duration_us // step_us, n)) * step_us
    return ev


def _first(events: Optional[np.ndarray], index: int, fallback: np.ndarray) -> np.ndarray:
    return events if events is not None and index == 0 else fallback


# --- DVS128 Gesture (tonic.datasets.DVSGesture) -------------------------------------------------------

def write_dvs128_gesture(root: Path, *, train_users: int = 2, test_users: int = 1, classes: int = 11,
                         events_per_sample: int = 300, seed: int = 0,
                         events: Optional[np.ndarray] = None) -> list[Sample]:
    """`root/DVSGesture/ibmGesture{Train,Test}/`: one folder per (user, lighting), one file per gesture.

    Each gesture appears once per user folder, so there are `train_users` (`test_users`) samples per
    class. Timestamps are whole milliseconds, the precision of tonic's copy.
    """
    written = []
    users = [("train", "ibmGestureTrain", u + 1) for u in range(train_users)]
    users += [("test", "ibmGestureTest", 24 + u) for u in range(test_users)]  # IBM's test subjects are 24-29
    for k, (part, folder, user) in enumerate(users):
        trial = Path(root) / "DVSGesture" / folder / f"user{user:02d}_{GESTURE_LIGHTING[k % len(GESTURE_LIGHTING)]}"
        trial.mkdir(parents=True, exist_ok=True)
        for label in range(classes):
            ev = _first(events, len(written), make_events(events_per_sample, 128, seed=seed + 1000 * k + label,
                                                          step_us=1000))
            assert np.all(ev["t"] % 1000 == 0), "DVSGesture files hold whole milliseconds"
            table = np.stack([ev["x"], ev["y"], ev["p"], ev["t"] // 1000], axis=1).astype(np.int64)  # x, y, p, t[ms]
            path = trial / f"{label}.npy"
            np.save(path, table)
            written.append(Sample(path, label, part, ev))
    return sorted(written, key=lambda s: str(s.path))


# --- CIFAR10-DVS (tonic.datasets.CIFAR10DVS, AEDAT 4.0) --------------------------------------------------

def _description_xml(width: int, height: int) -> bytes:
    # The stream description DV writes; the aedat decoder needs outInfo/<id>/typeIdentifier and info/sizeX,sizeY.
    return (
        '<dv version="2.0"><node name="outInfo" path="/mainloop/Recorder/outInfo/">'
        '<node name="0" path="/mainloop/Recorder/outInfo/0/">'
        '<attr key="compression" type="string">NONE</attr>'
        '<attr key="originalModuleName" type="string">capture</attr>'
        '<attr key="originalOutputName" type="string">events</attr>'
        '<attr key="typeDescription" type="string">Array of events (polarity ON/OFF).</attr>'
        '<attr key="typeIdentifier" type="string">EVTS</attr>'
        '<node name="info" path="/mainloop/Recorder/outInfo/0/info/">'
        f'<attr key="sizeX" type="int">{width}</attr><attr key="sizeY" type="int">{height}</attr>'
        '<attr key="source" type="string">DVS128</attr>'
        '</node></node></node></dv>'
    ).encode()


def _ioheader(description: bytes) -> bytes:
    """FlatBuffer `Ioheader {compression: int32, file_data_position: int64, description: string}`, id IOHE."""
    # [0] root offset -> table at 24 | [4] "IOHE" | [8] vtable (10 bytes) + 6 padding | [24] table (20 bytes) | [44] string
    vtable = struct.pack("<5H", 10, 20, 4, 8, 16)  # vtable size, table size, field offsets in the table
    table = struct.pack("<iiqI", 24 - 8, 0, -1, 44 - 40)  # soffset to vtable, compression None, -1: read to EOF, -> string
    string = struct.pack("<I", len(description)) + description + b"\0"
    buf = struct.pack("<I", 24) + b"IOHE" + vtable + b"\0" * 6 + table + string
    return buf + b"\0" * (-len(buf) % 4)


def _event_packet(events: np.ndarray) -> bytes:
    """Size-prefixed FlatBuffer `EventPacket {elements: [Event]}`, id EVTS, positions 8-byte aligned."""
    # [0] size | [4] root offset -> table at 20 | [8] "EVTS" | [12] vtable (6 bytes) + 2 padding
    # [20] table: soffset, offset -> vector | [28] vector length | [32] n x 16-byte Event structs
    elements = np.zeros(len(events), np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("on", "u1"), ("pad", "V3")]))
    elements["t"], elements["x"], elements["y"], elements["on"] = events["t"], events["x"], events["y"], events["p"]
    body = (struct.pack("<I", 16) + b"EVTS" + struct.pack("<3H", 6, 8, 4) + b"\0" * 2
            + struct.pack("<iII", 20 - 12, 4, len(events)) + elements.tobytes())
    return struct.pack("<I", len(body)) + body


def write_aedat4(path: Path, events: np.ndarray, *, width: int = 128, height: int = 128,
                 packet_size: int = 256) -> None:
    """An AEDAT 4.0 file holding `events` (EVENT_DTYPE) in packets of at most `packet_size` events."""
    header = _ioheader(_description_xml(width, height))
    with open(path, "wb") as f:
        f.write(b"#!AER-DAT4.0\r\n" + struct.pack("<I", len(header)) + header)
        for start in range(0, max(len(events), 1), packet_size):
            packet = _event_packet(events[start:start + packet_size])
            f.write(struct.pack("<II", 0, len(packet)) + packet)  # stream id 0, length


def write_cifar10_dvs(root: Path, *, per_class: int = 10, events_per_sample: int = 300, seed: int = 0,
                      events: Optional[np.ndarray] = None) -> list[Sample]:
    """`root/CIFAR10DVS/<class>/cifar10_<class>_<i>.aedat4`, `per_class` recordings per class."""
    written = []
    for label, name in enumerate(CIFAR10_CLASSES):
        folder = Path(root) / "CIFAR10DVS" / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            ev = _first(events, len(written), make_events(events_per_sample, 128, seed=seed + 1000 * label + i))
            path = folder / f"cifar10_{name}_{i}.aedat4"
            write_aedat4(path, ev)
            written.append(Sample(path, label, "all", ev))
    return sorted(written, key=lambda s: str(s.path))


# --- N-MNIST (tonic.datasets.NMNIST) ---------------------------------------------------------------------

def write_nmnist_bin(path: Path, events: np.ndarray) -> None:
    """Orchard's format: 5 bytes per event, x, y, then polarity (bit 7) and a 23-bit timestamp."""
    t = events["t"].astype(np.int64)
    assert t.max(initial=0) < 2**23, "no timestamp-overflow events needed below 8.4 s"
    raw = np.stack([events["x"], events["y"], (events["p"] << 7) | (t >> 16 & 0x7F), t >> 8 & 0xFF, t & 0xFF],
                   axis=1).astype(np.uint8)
    raw.tofile(path)


def write_nmnist(root: Path, *, train_per_class: int = 3, test_per_class: int = 1, events_per_sample: int = 200,
                 seed: int = 0, events: Optional[np.ndarray] = None) -> list[Sample]:
    """`root/NMNIST/{Train,Test}/<digit>/<id>.bin` on the 34x34 sensor."""
    written = []
    sample_id = 0
    for part, folder, per_class in (("train", "Train", train_per_class), ("test", "Test", test_per_class)):
        for digit in range(10):
            directory = Path(root) / "NMNIST" / folder / str(digit)
            directory.mkdir(parents=True, exist_ok=True)
            for _ in range(per_class):
                sample_id += 1
                ev = _first(events, len(written), make_events(events_per_sample, 34, seed=seed + sample_id,
                                                              duration_us=300_000))
                path = directory / f"{sample_id:05d}.bin"
                write_nmnist_bin(path, ev)
                written.append(Sample(path, digit, part, ev))
    return sorted(written, key=lambda s: str(s.path))
