"""Synthetic handwritten-looking digits: an offline, deterministic stand-in for MNIST.

Each digit 0-9 is a few pen strokes (polylines and elliptic arcs) in a unit box. An image
bends its digit's strokes with a smooth random warp, applies a random affine map (rotation,
shear, scale, shift), rasterises them with numpy at a random pen width (each pixel's ink is
its distance to the nearest stroke, anti-aliased over one pixel), and adds noise.
As in MNIST, the ink's centre of mass is put at the image centre (then shifted a little). Everything
comes from one ``numpy.random.Generator`` seeded by ``seed``, so a seed always gives the same
images. Like MNIST: 28x28 uint8, ink 255 on background 0, the digit in the central 20x20 box.
"""

from __future__ import annotations

import math

import numpy as np

_SIZE = 28
_BOX = 20.0  # the unit box maps to this many pixels, as MNIST fits digits in 20x20
_CHUNK = 128  # images rasterised at once (bounds the temporary arrays to a few MB)


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> np.ndarray:
    """Points on an elliptic arc from angle ``start`` to ``end`` (degrees, counter-clockwise
    on screen: y grows downwards), one point per ~15 degrees."""
    steps = max(2, math.ceil(abs(end - start) / 15)) + 1
    theta = np.radians(np.linspace(start, end, steps))
    return np.stack([cx + rx * np.cos(theta), cy - ry * np.sin(theta)], axis=1)


def _line(*points: tuple[float, float]) -> np.ndarray:
    return np.array(points, dtype=np.float64)


# Strokes of each digit in a unit box, x to the right and y downwards.
_STROKES: dict[int, list[np.ndarray]] = {
    0: [_arc(0.5, 0.5, 0.27, 0.4, 90, 450)],
    1: [_line((0.38, 0.24), (0.56, 0.1), (0.56, 0.9))],
    2: [
        np.concatenate([_arc(0.5, 0.32, 0.24, 0.22, 160, -40), _line((0.2, 0.9), (0.82, 0.9))]),
    ],
    3: [
        np.concatenate(
            [_arc(0.5, 0.29, 0.22, 0.19, 150, -90), _arc(0.5, 0.7, 0.25, 0.22, 90, -150)]
        )
    ],
    4: [_line((0.64, 0.9), (0.64, 0.1), (0.18, 0.64), (0.82, 0.64))],
    5: [
        np.concatenate(
            [_line((0.76, 0.1), (0.32, 0.1), (0.29, 0.47)), _arc(0.5, 0.66, 0.25, 0.24, 135, -145)]
        )
    ],
    6: [
        np.concatenate(
            [_arc(0.66, 0.56, 0.36, 0.46, 100, 185), _arc(0.5, 0.7, 0.2, 0.2, 180, -180)]
        )
    ],
    7: [_line((0.18, 0.1), (0.82, 0.1), (0.4, 0.9))],
    8: [_arc(0.5, 0.29, 0.18, 0.19, -90, 270), _arc(0.5, 0.7, 0.22, 0.21, 90, 450)],
    9: [np.concatenate([_arc(0.5, 0.31, 0.21, 0.21, 0, 360), _line((0.71, 0.31), (0.62, 0.9))])],
}


def _stroke_segments(strokes: list[np.ndarray]) -> np.ndarray:
    """A digit's strokes as segments, shape (S, 2, 2): [segment, end (start/stop), xy]."""
    return np.concatenate([np.stack([s[:-1], s[1:]], axis=1) for s in strokes])


_SEGMENTS = [_stroke_segments(_STROKES[digit]) for digit in range(10)]


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` digit images from strokes, deterministically for a given ``seed``.

    Parameters
    ----------
    n : int
        How many images (0 or more). The labels cycle through 0-9 in a shuffled order, so
        every digit appears ``n // 10`` or ``n // 10 + 1`` times.
    seed : int, default 0
        Seeds every random choice; the same ``(n, seed)`` always gives the same arrays.

    Returns
    -------
    images : ndarray of uint8, shape (n, 28, 28)
        Ink 255 on background 0, like MNIST.
    labels : ndarray of int64, shape (n,)
        The digit drawn in each image.

    Examples
    --------
    >>> from tinygrad_cnn.data import synthetic_digits
    >>> images, labels = synthetic_digits(100, seed=1)
    >>> images.shape, images.dtype, labels.shape
    ((100, 28, 28), dtype('uint8'), (100,))
    """
    if not isinstance(n, int | np.integer) or isinstance(n, bool):
        raise TypeError(f"synthetic_digits: n must be an int, got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"synthetic_digits: n must be 0 or more, got {n}")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise TypeError(f"synthetic_digits: seed must be an int, got {type(seed).__name__}")
    n = int(n)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 10).astype(np.int64)
    # Per image: a smooth warp of the unit box, an affine map to pixels, pen width, ink level.
    warp_amplitude = rng.uniform(-0.05, 0.05, (n, 2))
    warp_frequency = rng.uniform(0.5, 1.5, (n, 2, 2))
    warp_phase = rng.uniform(0, 2 * np.pi, (n, 2))
    angle = rng.uniform(-0.25, 0.25, n)  # radians, about +-14 degrees
    shear = rng.uniform(-0.25, 0.25, n)
    scale = rng.uniform([0.75, 0.85], [1.1, 1.1], (n, 2))
    shift = rng.uniform(-2.0, 2.0, (n, 2))
    half_width = rng.uniform(0.9, 2.0, n)
    ink = rng.uniform(0.8, 1.0, n)

    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    shear_matrix = np.tile(np.eye(2), (n, 1, 1))
    shear_matrix[:, 0, 1] = shear
    affine = (rotation @ shear_matrix) * (_BOX * scale[:, None, :])  # scales the columns

    images = np.empty((n, _SIZE, _SIZE), dtype=np.uint8)
    # One digit at a time, so each batch of images shares its number of segments.
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        for start in range(0, len(members), _CHUNK):
            part = members[start : start + _CHUNK]
            points = _place_strokes(
                _SEGMENTS[digit],
                warp_amplitude[part],
                warp_frequency[part],
                warp_phase[part],
                affine[part],
                shift[part],
                half_width[part],
            )
            distance = _distance_to_strokes(points)
            level = np.clip(half_width[part, None] + 0.5 - distance, 0.0, 1.0) * ink[part, None]
            noisy = level * 255 + rng.normal(0.0, 8.0, level.shape)
            images[part] = np.clip(np.rint(noisy), 0, 255).reshape(-1, _SIZE, _SIZE)
    return images, labels


def _place_strokes(
    segments: np.ndarray,
    amplitude: np.ndarray,
    frequency: np.ndarray,
    phase: np.ndarray,
    affine: np.ndarray,
    shift: np.ndarray,
    half_width: np.ndarray,
) -> np.ndarray:
    """Warp a digit's segments in the unit box, then map them to pixel coordinates.

    Parameters
    ----------
    segments : ndarray, shape (S, 2, 2)
        The digit's segments in the unit box.
    amplitude, phase : ndarray, shape (m, 2)
    frequency : ndarray, shape (m, 2, 2)
        Warp of each of ``m`` images: ``p_k += amplitude_k * sin(2 pi frequency_k . p + phase_k)``.
    affine : ndarray, shape (m, 2, 2)
        Linear map from the centred unit box to pixels (scale, shear, rotation).
    shift : ndarray, shape (m, 2)
        Offset of the strokes' centre of mass from the image centre, in pixels (reduced
        where needed to keep the strokes ``half_width + 1`` pixels inside the image).
    half_width : ndarray, shape (m,)
        Half the pen width, in pixels.

    Returns
    -------
    ndarray of float32, shape (m, S, 2, 2)
        Segment ends in pixel coordinates (x = column, y = row).
    """
    angle = 2 * np.pi * np.einsum("sek,mjk->msej", segments, frequency) + phase[:, None, None, :]
    warped = segments + amplitude[:, None, None, :] * np.sin(angle)
    placed = np.einsum("mij,msej->msei", affine, warped - 0.5)
    # Centre the ink's centre of mass (each segment's midpoint weighted by its length), as
    # MNIST centres its digits, then shift.
    midpoints = placed.mean(axis=2)  # (m, S, 2)
    lengths = np.linalg.norm(placed[:, :, 1] - placed[:, :, 0], axis=-1)[..., None]
    centre = (midpoints * lengths).sum(axis=1) / lengths.sum(axis=1)  # (m, 2)
    offset = (_SIZE - 1) / 2 - centre + shift
    # ... but keep the ink (pen width plus a pixel) inside the image, off its border pixels.
    margin = (half_width + 1.0)[:, None]
    low = margin - placed.min(axis=(1, 2))
    high = (_SIZE - 1) - margin - placed.max(axis=(1, 2))
    placed += np.clip(offset, low, np.maximum(low, high))[:, None, None, :]
    return placed.astype(np.float32)


def _distance_to_strokes(segments: np.ndarray) -> np.ndarray:
    """Distance from each pixel centre to the nearest segment.

    Parameters
    ----------
    segments : ndarray, shape (n, S, 2, 2)
        Segment ends in pixel coordinates (x = column, y = row).

    Returns
    -------
    ndarray, shape (n, 784)
    """
    rows, cols = np.divmod(np.arange(_SIZE * _SIZE, dtype=np.float32), _SIZE)
    ax, ay = segments[:, :, 0, 0, None], segments[:, :, 0, 1, None]  # (n, S, 1)
    abx, aby = segments[:, :, 1, 0, None] - ax, segments[:, :, 1, 1, None] - ay
    apx, apy = cols - ax, rows - ay  # (n, S, 784)
    length2 = np.maximum(abx * abx + aby * aby, 1e-12)
    t = np.clip((apx * abx + apy * aby) / length2, 0.0, 1.0)
    dx, dy = apx - t * abx, apy - t * aby
    return np.sqrt((dx * dx + dy * dy).min(axis=1))
