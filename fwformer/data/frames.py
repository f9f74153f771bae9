"""Event recordings -> T frames of event counts, with tonic's transforms.

`integrate(events, sensor, T, by, size)` returns int16 `[T, 2, size, size]`: channel 0 counts the OFF
events (polarity 0), channel 1 the ON events, per pixel, in each of T slices of the recording.

- `by="count"` (default; Spikformer's and FWformer's choice, spikingjelly's `split_by='number'`):
  every slice holds the same number of events, `N // T` (tonic's `ToFrame(n_event_bins=T)`).
  spikingjelly adds the last `N mod T` events (fewer than T of a recording's ~10^5) to the last
  frame; tonic drops them.
- `by="time"`: T slices of equal duration, `(t_last - t_first) // T` each (`ToFrame(n_time_bins=T)`);
  events after the last whole slice are dropped (at most T microseconds' worth).

A `size` below the sensor's maps every event to pixel `floor(x * size / sensor)` first (tonic's
`Downsample`), so a frame pixel counts the events of the sensor pixels it covers: 128 -> 64 sums
2x2 blocks, and the frames stay event counts.
"""
from __future__ import annotations

import numpy as np

FRAMES_BY = ("count", "time")


def integrate(events: np.ndarray, sensor: int, frames: int, by: str, size: int) -> np.ndarray:
    """Structured events (fields x, y, t, p) of a `sensor x sensor` camera -> int16 `[frames, 2, size, size]`."""
    from tonic.transforms import Downsample, ToFrame

    if by not in FRAMES_BY:
        raise ValueError(f"frames by '{by}'; expected one of: {', '.join(FRAMES_BY)}")
    if len(events) == 0:
        return np.zeros((frames, 2, size, size), np.int16)
    if size != sensor:
        events = Downsample(sensor_size=(sensor, sensor, 2), target_size=(size, size))(events)
    bins = {"n_event_bins": frames} if by == "count" else {"n_time_bins": frames}
    out = ToFrame(sensor_size=(size, size, 2), **bins)(events)  # [T, P, H, W]
    assert out.shape == (frames, 2, size, size), out.shape
    return out.astype(np.int16, copy=False)
