"""Winograd's minimal filtering F(4x4, 3x3): 3x3 convolutions at stride 1 in fewer products.

A 4 x 4 block ("tile") of outputs reads the 6 x 6 block of input pixels that holds its
sixteen windows. Winograd's algorithm (Lavin and Gray, "Fast Algorithms for Convolutional
Neural Networks", 2016) maps that block to ``V = B^T d B`` and each 3 x 3 filter to
``U = G w G^T``, both 6 x 6, so that the tile's outputs are ``A^T (U * V) A``: summed over
the input channels, the elementwise product at each of the 36 positions is one matrix
product (tiles, C) @ (C, O). That is 36 multiplications per channel pair for 16 outputs
instead of im2col's 144 (4x fewer), and the tiles copy 2.25 values per output pixel
instead of im2col's 9. The price is rounding: the transforms' coefficients (up to 8, and
1/24) make float32 results differ from a direct convolution's by about 1e-5 of their
largest value instead of 1e-6 (float64: about 1e-14), and an infinity or NaN reaches the
whole tile, so callers use this only for finite values (docs/performance.md).

The 2-D transforms are Kronecker products of the 1-D ones (``vec(B^T d B) = (B^T kron B^T)
vec(d)`` for row-major ``vec``), applied to every tile at once as one (36, 36) matrix
product. Backward is the same linear maps transposed: the upstream gradient's tiles map to
``dM = (A kron A) vec(g_tile)``; the weight gradient is ``G^T (sum over tiles of V^T dM) G``
and the input gradient ``B (dM U^T) B^T``, added back over the overlapping 6 x 6 blocks.

Arrays are channels-last: the padded input (N, 4*TH + 2, 4*TW + 2, C) with TH x TW tiles
per image, V (36, N*TH*TW, C), U (36, C, O), dM (36, N*TH*TW, O). Forward and backward run
over chunks of images (:func:`image_chunks_of`), so that one chunk's V, products and dM
stay in cache between the steps that read them; V is kept per chunk for backward.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinygrad_cnn.ops.window import image_chunks

TILE = 4  # outputs along each side of a tile
SPAN = TILE + 2  # input pixels along each side of a tile: TILE windows of 3
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # the ones its rounding suits
# A chunk of images' per-position products at most (4 MiB: LeNet's conv2 at batch 256 in
# six chunks, its backward 5-15 % faster than in one; docs/performance.md).
CHUNK_BYTES = 4 << 20

# The 1-D transforms of F(4, 3) at the points 0, 1, -1, 2, -2 and infinity (Lavin and Gray).
_B_T = np.array(
    [
        [4, 0, -5, 0, 1, 0],
        [0, -4, -4, 1, 1, 0],
        [0, 4, -4, -1, 1, 0],
        [0, -2, -1, 2, 1, 0],
        [0, 2, -1, -2, 1, 0],
        [0, 4, 0, -5, 0, 1],
    ],
    dtype=np.float64,
)
_G = np.array(
    [
        [1 / 4, 0, 0],
        [-1 / 6, -1 / 6, -1 / 6],
        [-1 / 6, 1 / 6, -1 / 6],
        [1 / 24, 1 / 12, 1 / 6],
        [1 / 24, -1 / 12, 1 / 6],
        [0, 0, 1],
    ],
    dtype=np.float64,
)
_A_T = np.array(
    [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
    dtype=np.float64,
)
INPUT_TRANSFORM = np.kron(_B_T, _B_T)  # (36, 36): vec(d) -> vec(B^T d B)
FILTER_TRANSFORM = np.kron(_G, _G)  # (36, 9): vec(w) -> vec(G w G^T)
OUTPUT_TRANSFORM = np.kron(_A_T, _A_T)  # (16, 36): vec(M) -> vec(A^T M A)


def tile_counts(out_hw: tuple[int, int]) -> tuple[int, int]:
    """Tiles along the height and the width that cover an (OH, OW) output."""
    return -(-out_hw[0] // TILE), -(-out_hw[1] // TILE)


def _tiles_of(padded_shape: tuple[int, ...]) -> tuple[int, int]:
    """Tiles along the height and the width of a (N, 4*TH + 2, 4*TW + 2, C) padded input."""
    return (padded_shape[1] - 2) // TILE, (padded_shape[2] - 2) // TILE


def padded_for_tiles(
    x: np.ndarray, padding: tuple[int, int], out_hw: tuple[int, int]
) -> np.ndarray:
    """The NCHW images ``x`` zero-padded to (N, 4*TH + 2, 4*TW + 2, C), channels-last.

    ``padding`` on the top and left; the bottom and right get what the tiles need (at least
    ``padding``: the last tile may reach past the output, into zeros).
    """
    n, c, h, width = x.shape
    th, tw = tile_counts(out_hw)
    ph, pw = padding
    padded = np.zeros((n, TILE * th + 2, TILE * tw + 2, c), dtype=x.dtype)
    padded[:, ph : ph + h, pw : pw + width] = x.transpose(0, 2, 3, 1)
    return padded


def transformed_tiles(padded: np.ndarray) -> np.ndarray:
    """V (36, N*TH*TW, C): every tile's 6 x 6 input block d as ``B^T d B``."""
    n, _, _, c = padded.shape
    th, tw = _tiles_of(padded.shape)
    bn, bh, bw, bc = padded.strides
    blocks = as_strided(
        padded,
        shape=(SPAN, SPAN, n, th, tw, c),
        strides=(bh, bw, bn, TILE * bh, TILE * bw, bc),
        writeable=False,
    )
    d = np.empty((SPAN * SPAN, n * th * tw * c), dtype=padded.dtype)
    d.reshape(blocks.shape)[...] = blocks
    return (INPUT_TRANSFORM.astype(padded.dtype) @ d).reshape(SPAN * SPAN, n * th * tw, c)


def transformed_filters(w: np.ndarray) -> np.ndarray:
    """U (36, C, O): every (O, C, 3, 3) filter as ``G w G^T``."""
    o, c = w.shape[:2]
    taps = w.transpose(2, 3, 1, 0).reshape(9, c * o)
    return (FILTER_TRANSFORM.astype(w.dtype) @ taps).reshape(SPAN * SPAN, c, o)


def image_chunks_of(padded_shape: tuple[int, ...], channels: int, itemsize: int) -> list[slice]:
    """The images of a padded input in chunks whose per-position products (36 x tiles x the
    larger channel count) stay within CHUNK_BYTES: a chunk's arrays stay in cache."""
    n, _, _, c = padded_shape
    th, tw = _tiles_of(padded_shape)
    return image_chunks(n, SPAN * SPAN * th * tw * max(c, channels) * itemsize, CHUNK_BYTES)


def convolve(
    padded: np.ndarray, w: np.ndarray, out_hw: tuple[int, int]
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """The convolution of the padded input (:func:`padded_for_tiles`) with the (O, C, 3, 3)
    filters, a chunk of images at a time (:func:`image_chunks_of`).

    Returns
    -------
    out : (N, OH, OW, O) channels-last
    tiles : V of each chunk, (36, tiles of the chunk, C), for backward
    u : U (36, C, O), for backward
    """
    n, o = padded.shape[0], w.shape[0]
    th, tw = tile_counts(out_hw)
    u = transformed_filters(w)
    back = OUTPUT_TRANSFORM.astype(w.dtype)
    out = np.empty((n, th, TILE, tw, TILE, o), dtype=w.dtype)
    tiles = []
    for images in image_chunks_of(padded.shape, o, padded.itemsize):
        v = transformed_tiles(padded[images])
        tiles.append(v)
        products = np.matmul(v, u)  # (36, tiles, O): one product per position
        outputs = (back @ products.reshape(SPAN * SPAN, -1)).reshape(TILE, TILE, -1, th, tw, o)
        out[images] = outputs.transpose(2, 3, 0, 4, 1, 5)
    return out.reshape(n, TILE * th, TILE * tw, o)[:, : out_hw[0], : out_hw[1]], tiles, u


def gradient_tiles(g: np.ndarray) -> np.ndarray:
    """dM (36, N*TH*TW, O): the upstream gradient g (N, O, OH, OW) of each 4 x 4 output tile
    mapped back through the output transform, ``A g_tile A^T``."""
    n, o, oh, ow = g.shape
    th, tw = tile_counts((oh, ow))
    tiled = np.zeros((n, TILE * th, TILE * tw, o), dtype=g.dtype)
    tiled[:, :oh, :ow] = g.transpose(0, 2, 3, 1)
    blocks = np.empty((TILE, TILE, n, th, tw, o), dtype=g.dtype)
    blocks[...] = tiled.reshape(n, th, TILE, tw, TILE, o).transpose(2, 4, 0, 1, 3, 5)
    mapped = OUTPUT_TRANSFORM.T.astype(g.dtype) @ blocks.reshape(TILE * TILE, -1)
    return mapped.reshape(SPAN * SPAN, n * th * tw, o)


def gradients(
    g: np.ndarray,
    tiles: list[np.ndarray],
    u: np.ndarray,
    padded_shape: tuple[int, ...],
    *,
    weight: bool = True,
    padded_input: bool = True,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The weight gradient and the gradient of the padded input, from g (N, O, OH, OW) and
    what :func:`convolve` returned, a chunk of images at a time, each chunk's dM shared.

    Returns
    -------
    dW : (O, C, 3, 3) = ``G^T (sum over tiles of V^T dM) G``, or None unless ``weight``
    d_padded : (N, 4*TH + 2, 4*TW + 2, C) channels-last, each tile's ``B (dM U^T) B^T``
        added over the overlapping 6 x 6 blocks; None unless ``padded_input``
    """
    o, c = g.shape[1], u.shape[1]
    per_position = np.zeros((SPAN * SPAN, o, c), dtype=g.dtype) if weight else None
    grad = np.empty(padded_shape, dtype=g.dtype) if padded_input else None
    u_t = u.transpose(0, 2, 1)
    images_of = image_chunks_of(padded_shape, o, g.itemsize)  # (the forward's chunks)
    for images, v in zip(images_of, tiles, strict=True):
        dm = gradient_tiles(g[images])
        if per_position is not None:
            per_position += np.matmul(dm.transpose(0, 2, 1), v)  # (faster than V^T dM)
        if grad is not None:
            _add_blocks(grad[images], np.matmul(dm, u_t))
    if per_position is None:
        return None, grad
    taps = FILTER_TRANSFORM.T.astype(g.dtype) @ per_position.reshape(SPAN * SPAN, o * c)
    return np.ascontiguousarray(taps.reshape(3, 3, o, c).transpose(2, 3, 0, 1)), grad


def _add_blocks(grad: np.ndarray, per_position: np.ndarray) -> None:
    """Write into ``grad`` (images, 4*TH + 2, 4*TW + 2, C) the sum of each tile's 6 x 6 block
    ``B dV B^T``, from dV (36, tiles, C)."""
    n, _, _, c = grad.shape
    th, tw = _tiles_of(grad.shape)
    blocks = INPUT_TRANSFORM.T.astype(grad.dtype) @ per_position.reshape(SPAN * SPAN, -1)
    blocks = blocks.reshape(SPAN, SPAN, n, th, tw, c)
    grad[...] = 0
    for i in range(SPAN):
        for j in range(SPAN):
            grad[:, i : i + TILE * th : TILE, j : j + TILE * tw : TILE] += blocks[i, j]
