"""``add_scaled``: numpy's answer, by BLAS where it serves and numpy elsewhere."""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

import numpy as np
import pytest

from tinygrad_cnn import Tensor, blas_vectors, optim
from tinygrad_cnn.blas_vectors import BLAS_MIN_ELEMENTS, add_scaled

BIG = BLAS_MIN_ELEMENTS + 3  # an odd size: no routine may assume a multiple of its SIMD width
has_blas = bool(blas_vectors._blas())


def uses_blas(y: np.ndarray, x: np.ndarray) -> bool:
    return blas_vectors._axpby_for(y, x) is not None


@pytest.fixture
def without_blas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blas_vectors, "_blas", lambda: {})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [5, BIG])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("scale_y", [1.0, 0.9])
def test_add_scaled_gives_numpys_values(dtype: type, size: int, order: str, scale_y: float) -> None:
    rng = np.random.default_rng(0)
    shape = (size, 1) if order == "C" else (1, size)
    x = np.asarray(rng.standard_normal(shape), dtype=dtype, order=order)
    y = np.asarray(rng.standard_normal(shape), dtype=dtype, order=order)
    kept, product = dtype(scale_y) * y, dtype(-0.37) * x
    expected, magnitude = kept + product, np.abs(kept) + np.abs(product)
    add_scaled(y, -0.37, x, scale_y=scale_y)
    # BLAS may fuse the multiplies and the add (one rounding instead of two or three): the
    # results differ by a rounding of the operands' size, not of the (cancelling) sum's
    assert np.all(np.abs(y - expected) <= 3 * np.finfo(dtype).eps * magnitude)
    assert y.dtype == dtype and y.shape == shape and y.flags[f"{order}_CONTIGUOUS"]


@pytest.mark.skipif(not has_blas, reason="numpy here does not ship OpenBLAS's vector routines")
def test_blas_serves_big_contiguous_float_arrays_only() -> None:
    big, big32 = np.ones(BIG), np.ones(BIG, dtype=np.float32)
    assert uses_blas(big, np.ones(BIG)) and uses_blas(big32, big32.copy())
    assert uses_blas(np.ones((BIG, 2)).T, np.ones((BIG, 2)).T)  # F-ordered, both
    assert uses_blas(big, big32.astype(np.float64))
    refused = [
        (np.ones(5), np.ones(5)),  # small
        (big, big32),  # dtypes differ
        (np.ones(BIG, dtype=np.float16), np.ones(BIG, dtype=np.float16)),
        (np.ones(2 * BIG)[::2], big),  # not contiguous
        (np.ones((BIG, 2)), np.ones((BIG, 2), order="F")),  # layouts differ
        (big, big[::-1]),  # the same memory
        (big, np.ones(BIG + 1)),  # shapes differ
    ]
    for y, x in refused:
        assert not uses_blas(y, x)
    read_only = np.ones(BIG)
    read_only.flags.writeable = False
    assert not uses_blas(read_only, big)


def test_refused_arrays_get_numpys_exact_update() -> None:
    strided = np.arange(2 * BIG, dtype=np.float64)[::2]
    target = np.ones(BIG)
    add_scaled(target, 0.5, strided)  # not contiguous: numpy
    np.testing.assert_array_equal(target, 1.0 + 0.5 * strided)
    overlapping = np.arange(BIG + 1, dtype=np.float64)
    before = overlapping.copy()
    add_scaled(overlapping[1:], 2.0, overlapping[:-1])  # shared memory: numpy's buffered rule
    reference = before.copy()
    reference[1:] += 2.0 * before[:-1]
    np.testing.assert_array_equal(overlapping, reference)


@pytest.mark.parametrize("size", [5, BIG])
def test_an_x_sharing_ys_memory_counts_with_its_old_values(size: int) -> None:
    """y = b * y + a * x where x is y itself or a view of it (numpy then, not BLAS)."""
    for alpha in (1.0, 0.5):
        y = np.arange(size, dtype=np.float64)
        add_scaled(y, alpha, y, scale_y=0.25)
        np.testing.assert_array_equal(y, (0.25 + alpha) * np.arange(size))
        y = np.arange(size + 1, dtype=np.float64)
        add_scaled(y[1:], alpha, y[:-1], scale_y=0.25)  # overlapping views
        expected = np.arange(size + 1, dtype=np.float64)
        expected[1:] = 0.25 * expected[1:] + alpha * expected[:-1]
        np.testing.assert_array_equal(y, expected)


def test_without_blas_the_same_updates_run_in_numpy(without_blas: None) -> None:
    x, y = np.linspace(0, 1, BIG), np.linspace(1, 2, BIG)
    assert not uses_blas(y, x)
    expected = (y + 3.0 * x) * 0.25 + x
    add_scaled(y, 3.0, x)
    add_scaled(y, 1.0, x, scale_y=0.25)
    np.testing.assert_array_equal(y, expected)


def test_a_routine_with_a_wrong_answer_is_not_trusted() -> None:
    def axpby(real: type) -> Callable[..., None]:
        """A BLAS-like y = a * x + b * y over n elements at raw addresses."""

        def update(n: int, a: float, x: int, incx: int, b: float, y: int, incy: int) -> None:
            xs, ys = (real * n).from_address(x), (real * n).from_address(y)
            for i in range(n):
                ys[i] = a * xs[i] + b * ys[i]

        return update

    def past_the_end(real: type) -> Callable[..., None]:
        """Right on n elements, but it also updates element n."""
        right = axpby(real)
        return lambda n, *args: right(n + 1, *args)

    right = {"s": axpby(ctypes.c_float), "d": axpby(ctypes.c_double)}
    assert blas_vectors._answers_correctly(right)
    assert not blas_vectors._answers_correctly({**right, "d": lambda *args: None})
    assert not blas_vectors._answers_correctly({**right, "s": past_the_end(ctypes.c_float)})


def test_a_library_without_both_routines_gives_none() -> None:
    class OnlySingle:
        scipy_cblas_saxpby64_ = ctypes.CFUNCTYPE(None)(lambda: None)

    assert blas_vectors._routines_of(OnlySingle()) == {}  # type: ignore[arg-type]


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not blas_vectors._openblas_files(),
    reason="numpy's Linux wheels ship OpenBLAS in numpy.libs",
)
def test_numpys_wheel_openblas_is_found_and_checked() -> None:
    blas_vectors._blas.cache_clear()
    assert sorted(blas_vectors._blas()) == ["d", "s"]


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (optim.SGD, {"lr": 0.1, "momentum": 0.9}),
        (optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}),
        (optim.SGD, {"lr": 0.1}),
        (optim.Adam, {"lr": 0.01}),
        (optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}),
        (optim.RMSprop, {"lr": 0.01}),
        (optim.RMSprop, {"lr": 0.01, "momentum": 0.9, "centered": True}),
    ],
)
def test_optimizer_steps_by_blas_match_numpy_and_are_the_same_side_by_side(
    cls: type, kwargs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big parameters: the steps by BLAS agree with the numpy steps to rounding, and are
    exactly the same when the optimizer's threads run the updates side by side."""
    from tinygrad_cnn.optim import parallel

    def train() -> tuple[list[np.ndarray], bool]:
        rng = np.random.default_rng(3)
        params = [
            Tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
            for shape in [(BIG,), (BIG // 4, 4), (7,)]
        ]
        opt = cls(params, **kwargs)
        for _ in range(3):
            for p in params:
                p.grad = Tensor(rng.standard_normal(p.shape).astype(np.float32))
            opt.step()
        return [p.numpy().copy() for p in params], opt._pool._executor is not None

    one_thread, threaded = train()
    assert not threaded  # 82K elements: below the optimizer's threshold
    monkeypatch.setattr(parallel, "PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    side_by_side, threaded = train()
    assert threaded
    monkeypatch.setattr(blas_vectors, "_blas", lambda: {})
    by_numpy, _ = train()
    for a, b, c in zip(one_thread, side_by_side, by_numpy, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)
