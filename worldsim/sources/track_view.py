"""Where CarRacing's track lies around the car, in the car's own frame.

CarRacing's frames follow the car, nose up, so the road a frame shows is a function of the track's
centre line near the car as seen from the car. A model that draws frames from the physical state
needs that line in the state: without it, the road it draws can only be an average (a grey blob).

The line is read at fixed steps along the track from the car's own place on it: the car is projected
onto the centre-line polyline (a fractional point index), and the line is sampled at that index plus
each offset, linearly between the track's points (~3.5 u apart). Anchored to the projection, the
samples ride along with the car: on a straight road they stay put while the car drives, and they
change smoothly (no jump when the nearest track point changes) as it turns or drifts sideways.
"""

from __future__ import annotations

import numpy as np

# CarRacing paints lighter grass squares GRASS_DIM = 16.7 u wide at every other multiple of GRASS_DIM in
# x and in y: a pattern of period 33.3 u. A frame shows where the car sits in it (the squares scroll
# by), not the car's absolute place; held as phases, a dream can keep the squares where frames had them.
GRASS_PERIOD = 2 * 2000 / 6 / 20

# CarRacing lays its centre line's points TRACK_DETAIL_STEP = 21 / SCALE = 3.5 u apart along the track.
POINT_SPACING = 21 / 6

# Track points behind (-) and ahead (+) of the car's place on the centre line; the 96x96 view shows
# ~12 u behind the car, ~37 u ahead and ~31 u to each side.
OFFSETS = (-4, -2, 0, 2, 4, 6, 8, 10, 12)


def field_names(offsets=OFFSETS) -> list[str]:
    """Two fields per offset: the centre-line sample's distance to the car's right and ahead of it."""
    return [f"road{k:+d}_{axis}" for k in offsets for axis in ("right", "ahead")]


def projected_index(points: np.ndarray, car: np.ndarray) -> float:
    """The car's place on the closed polyline `points` (N, 2), as a fractional point index."""
    n = len(points)
    nearest = int(np.argmin(np.sum((points - car) ** 2, axis=1)))
    best, best_distance = float(nearest), np.inf
    for start in (nearest - 1, nearest):  # the two segments that meet at the nearest point
        a, b = points[start % n], points[(start + 1) % n]
        along = b - a
        t = float(np.clip(np.dot(car - a, along) / max(float(np.dot(along, along)), 1e-9), 0.0, 1.0))
        distance = float(np.sum((a + t * along - car) ** 2))
        if distance < best_distance:
            best, best_distance = start + t, distance
    return best % n


def centre_line_view(points: np.ndarray, car: np.ndarray, heading: float, offsets=OFFSETS) -> np.ndarray:
    """(2 * len(offsets),) the centre line at each offset as (right, ahead) of the car, in track units.

    `heading` is CarRacing's hull angle: 0 points the nose along +y, so ahead is (-sin, cos) and right
    is (cos, sin)."""
    points = np.asarray(points, dtype=np.float64)
    car = np.asarray(car, dtype=np.float64)
    n = len(points)
    base = projected_index(points, car)
    index = base + np.asarray(offsets, dtype=np.float64)
    low = np.floor(index).astype(int)
    frac = (index - low)[:, None]
    samples = (1 - frac) * points[low % n] + frac * points[(low + 1) % n]
    delta = samples - car
    right = delta @ np.array([np.cos(heading), np.sin(heading)])
    ahead = delta @ np.array([-np.sin(heading), np.cos(heading)])
    return np.stack([right, ahead], axis=1).reshape(-1).astype(np.float32)
