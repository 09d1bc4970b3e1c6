"""Shapes, conversions and indexing written as a PyTorch user writes them, checked against torch.

Every call below runs on a ``Tensor`` and on a ``torch.Tensor`` built from the same float64
values (the same lambda for both, ``lib`` being ``tinygrad_cnn`` or ``torch`` for module-level
functions). Outputs must agree in shape, dtype and values; one random weighted sum of the
outputs is backpropagated in both and the input gradients must agree (a repeated index adds
up, as in torch's index backward). Where torch raises, so must this library.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import Size, Tensor

torch = pytest.importorskip("torch")

Call = Callable[..., Any]


# ---------------------------------------------------------------------- helpers
def _outputs(result: Any) -> list[Any]:
    return list(result) if isinstance(result, tuple | list) else [result]


def _np_dtype(torch_dtype: Any) -> np.dtype:
    return torch.empty(0, dtype=torch_dtype).numpy().dtype


def assert_same(ours: Tensor, theirs: Any) -> None:
    """Same shape, dtype and values (shape ops move values: they must be exactly equal)."""
    assert isinstance(ours, Tensor), type(ours)
    expected = theirs.detach().numpy()
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype == expected.dtype, (ours.dtype, expected.dtype)
    np.testing.assert_array_equal(ours.numpy(), expected)


def compare(fn: Call, *shapes: tuple[int, ...], seed: int = 0) -> list[Tensor]:
    """Run ``fn(lib, *inputs)`` in both libraries; compare outputs and input gradients."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape) for shape in shapes]
    ours_in = [Tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours = _outputs(fn(tc, *ours_in))
    theirs = _outputs(fn(torch, *theirs_in))
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs, strict=True):
        assert_same(mine, reference)
    weights = [rng.standard_normal(o.shape) for o in ours]
    sum(((o * Tensor(w)).sum() for o, w in zip(ours, weights, strict=True)), Tensor(0.0)).backward()
    theirs_loss = sum(
        ((o * torch.tensor(w)).sum() for o, w in zip(theirs, weights, strict=True)),
        torch.tensor(0.0, dtype=torch.float64),
    )
    if theirs_loss.requires_grad:
        theirs_loss.backward()
    for mine, reference, array in zip(ours_in, theirs_in, arrays, strict=True):
        got = np.zeros_like(array) if mine.grad is None else mine.grad
        expected = np.zeros_like(array) if reference.grad is None else reference.grad.numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    return ours


def both_raise(fn: Call, *shapes: tuple[int, ...]) -> Exception:
    """torch raises, and so does this library (a ValueError, TypeError or IndexError)."""
    arrays = [np.ones(shape) for shape in shapes]
    with pytest.raises(Exception):  # noqa: B017 - any torch error: it refuses the call
        fn(torch, *[torch.tensor(a) for a in arrays])
    with pytest.raises((ValueError, TypeError, IndexError, RuntimeError)) as info:
        fn(tc, *[Tensor(a) for a in arrays])
    return info.value


# ---------------------------------------------------------------------- shape methods
METHODS: list[tuple[str, Call, tuple[tuple[int, ...], ...]]] = [
    ("view", lambda lib, x: x.view(6), ((2, 3),)),
    ("view -1", lambda lib, x: x.view(-1, 2), ((2, 3),)),
    ("view tuple", lambda lib, x: x.view((3, -1)), ((2, 3),)),
    ("view size", lambda lib, x: x.view(x.size()), ((2, 3),)),
    ("view_as", lambda lib, x, y: x.view_as(y) + y, ((2, 3), (3, 2))),
    ("reshape", lambda lib, x: x.reshape(-1), ((2, 3, 4),)),
    ("reshape tuple", lambda lib, x: x.reshape((4, -1)), ((2, 3, 4),)),
    ("reshape list", lambda lib, x: x.reshape([6, 4]), ((2, 3, 4),)),
    ("reshape to 0-d", lambda lib, x: x.reshape(()), ((1, 1),)),
    ("reshape_as", lambda lib, x, y: x.reshape_as(y) * y, ((2, 3), (6,))),
    ("transpose 2-d", lambda lib, x: x.transpose(0, 1), ((2, 3),)),
    ("transpose negative", lambda lib, x: x.transpose(-1, 0), ((2, 3, 4),)),
    ("transpose same dim", lambda lib, x: x.transpose(1, 1), ((2, 3),)),
    ("transpose 1-d", lambda lib, x: x.transpose(0, -1), ((3,),)),
    ("transpose 0-d", lambda lib, x: x.transpose(0, -1), ((),)),
    ("t 2-d", lambda lib, x: x.t(), ((2, 3),)),
    ("t 1-d", lambda lib, x: x.t(), ((3,),)),
    ("t 0-d", lambda lib, x: x.t(), ((),)),
    ("T 2-d", lambda lib, x: x.T, ((2, 3),)),
    ("T 3-d", lambda lib, x: x.T, ((2, 3, 4),)),
    ("mT", lambda lib, x: x.mT, ((2, 3, 4),)),
    ("permute", lambda lib, x: x.permute(2, 0, 1), ((2, 3, 4),)),
    ("permute tuple", lambda lib, x: x.permute((1, 2, 0)), ((2, 3, 4),)),
    ("permute list negative", lambda lib, x: x.permute([-1, 0, 1]), ((2, 3, 4),)),
    ("squeeze all", lambda lib, x: x.squeeze(), ((1, 3, 1, 2),)),
    ("squeeze size-1 dim", lambda lib, x: x.squeeze(2), ((1, 3, 1, 2),)),
    ("squeeze not size 1", lambda lib, x: x.squeeze(1), ((1, 3, 1, 2),)),
    ("squeeze negative", lambda lib, x: x.squeeze(-2), ((1, 3, 1, 2),)),
    ("squeeze tuple", lambda lib, x: x.squeeze((0, 1, 2)), ((1, 3, 1, 2),)),
    ("squeeze dim=", lambda lib, x: x.squeeze(dim=0), ((1, 3),)),
    ("squeeze 0-d", lambda lib, x: x.squeeze(0), ((),)),
    ("squeeze nothing to squeeze", lambda lib, x: x.squeeze(), ((2, 3),)),
    ("unsqueeze 0", lambda lib, x: x.unsqueeze(0), ((2, 3),)),
    ("unsqueeze -1", lambda lib, x: x.unsqueeze(-1), ((2, 3),)),
    ("unsqueeze -2", lambda lib, x: x.unsqueeze(-2), ((2, 3),)),
    ("unsqueeze end", lambda lib, x: x.unsqueeze(2), ((2, 3),)),
    ("unsqueeze 0-d", lambda lib, x: x.unsqueeze(-1), ((),)),
    ("flatten", lambda lib, x: x.flatten(), ((2, 3, 4),)),
    ("flatten start", lambda lib, x: x.flatten(1), ((2, 3, 4),)),
    ("flatten range", lambda lib, x: x.flatten(0, 1), ((2, 3, 4),)),
    ("flatten negative", lambda lib, x: x.flatten(-2, -1), ((2, 3, 4),)),
    ("flatten keywords", lambda lib, x: x.flatten(start_dim=1, end_dim=2), ((2, 3, 4),)),
    ("flatten 0-d", lambda lib, x: x.flatten(), ((),)),
    ("expand -1", lambda lib, x: x.expand(-1, 4), ((3, 1),)),
    ("expand new dims", lambda lib, x: x.expand(2, -1, 4), ((3, 1),)),
    ("expand tuple", lambda lib, x: x.expand((2, 3, 4)), ((3, 1),)),
    ("expand_as", lambda lib, x, y: x.expand_as(y) * y, ((3, 1), (2, 3, 4))),
    ("repeat", lambda lib, x: x.repeat(2, 3), ((3, 2),)),
    ("repeat new dims", lambda lib, x: x.repeat(2, 1, 2), ((3, 2),)),
    ("repeat tuple", lambda lib, x: x.repeat((1, 2)), ((3, 2),)),
    ("repeat zero", lambda lib, x: x.repeat(0, 1), ((3, 2),)),
    ("flip one dim", lambda lib, x: x.flip(0), ((3, 2, 2),)),
    ("flip dims", lambda lib, x: x.flip(0, 2), ((3, 2, 2),)),
    ("flip tuple negative", lambda lib, x: x.flip((-1, 1)), ((3, 2, 2),)),
    ("flip none", lambda lib, x: x.flip([]), ((3, 2),)),
    ("clone", lambda lib, x: x.clone(), ((2, 3),)),
    ("clone then used twice", lambda lib, x: x.clone() * x, ((2, 3),)),
    ("contiguous of a transpose", lambda lib, x: x.t().contiguous().view(-1), ((2, 3),)),
    ("split size", lambda lib, x: x.split(2), ((5, 3),)),
    ("split sections", lambda lib, x: x.split([1, 3, 1]), ((5, 3),)),
    ("split dim", lambda lib, x: x.split(2, dim=1), ((5, 3),)),
    ("split negative dim", lambda lib, x: x.split(1, -1), ((5, 3),)),
    ("split larger than the dim", lambda lib, x: x.split(10), ((5, 3),)),
    ("split empty section", lambda lib, x: x.split([0, 5]), ((5, 3),)),
    ("chunk", lambda lib, x: x.chunk(2), ((5, 3),)),
    ("chunk fewer pieces", lambda lib, x: x.chunk(4, dim=0), ((6, 3),)),
    ("chunk 7 in 4", lambda lib, x: x.chunk(4), ((7,),)),
    ("chunk more than the size", lambda lib, x: x.chunk(6, 1), ((2, 3),)),
    ("chunk empty dim", lambda lib, x: x.chunk(3), ((0, 2),)),
    ("unbind", lambda lib, x: x.unbind(), ((3, 2),)),
    ("unbind dim", lambda lib, x: x.unbind(1), ((3, 2),)),
    ("iterate", lambda lib, x: tuple(x), ((3, 2),)),
]


@pytest.mark.filterwarnings("ignore:The use of `x.T` on tensors:UserWarning")  # torch's
@pytest.mark.parametrize(("fn", "shapes"), [m[1:] for m in METHODS], ids=[m[0] for m in METHODS])
def test_shape_methods_match_torch(fn: Call, shapes: tuple[tuple[int, ...], ...]) -> None:
    compare(fn, *shapes)


FUNCTIONS: list[tuple[str, Call, tuple[tuple[int, ...], ...]]] = [
    ("cat", lambda lib, a, b: lib.cat([a, b]), ((2, 3), (4, 3))),
    ("cat dim", lambda lib, a, b: lib.cat((a, b), dim=1), ((2, 3), (2, 1))),
    ("cat dim positional", lambda lib, a, b: lib.cat([a, b], -1), ((2, 3), (2, 1))),
    ("cat axis", lambda lib, a, b: lib.cat([a, b], axis=1), ((2, 3), (2, 1))),
    ("cat one", lambda lib, a: lib.cat([a]), ((2, 3),)),
    ("cat same tensor twice", lambda lib, a: lib.cat([a, a]), ((2, 3),)),
    ("concat", lambda lib, a, b: lib.concat([a, b], dim=0), ((1, 3), (2, 3))),
    ("concatenate", lambda lib, a, b: lib.concatenate([a, b], axis=0), ((1, 3), (2, 3))),
    ("stack", lambda lib, a, b: lib.stack([a, b]), ((2, 3), (2, 3))),
    ("stack dim", lambda lib, a, b: lib.stack([a, b], dim=2), ((2, 3), (2, 3))),
    ("stack negative dim", lambda lib, a, b: lib.stack((a, b), -2), ((2, 3), (2, 3))),
    ("stack 0-d", lambda lib, a, b: lib.stack([a, b]), ((), ())),
    ("split", lambda lib, x: lib.split(x, [2, 1], dim=1), ((2, 3),)),
    ("chunk", lambda lib, x: lib.chunk(x, 2, 1), ((2, 3),)),
    ("unbind", lambda lib, x: lib.unbind(x, 1), ((2, 3),)),
    ("transpose", lambda lib, x: lib.transpose(x, 0, 1), ((2, 3),)),
    ("t", lambda lib, x: lib.t(x), ((2, 3),)),
    ("permute", lambda lib, x: lib.permute(x, (1, 0)), ((2, 3),)),
    ("reshape", lambda lib, x: lib.reshape(x, (3, -1)), ((2, 3),)),
    ("flatten", lambda lib, x: lib.flatten(x, 1), ((2, 3, 2),)),
    ("squeeze", lambda lib, x: lib.squeeze(x), ((1, 3, 1),)),
    ("squeeze dim", lambda lib, x: lib.squeeze(x, 2), ((1, 3, 1),)),
    ("unsqueeze", lambda lib, x: lib.unsqueeze(x, 1), ((2, 3),)),
    ("flip", lambda lib, x: lib.flip(x, (0, 1)), ((2, 3),)),
    ("clone", lambda lib, x: lib.clone(x), ((2, 3),)),
]


@pytest.mark.parametrize(
    ("fn", "shapes"), [f[1:] for f in FUNCTIONS], ids=[f[0] for f in FUNCTIONS]
)
def test_module_level_functions_match_torch(fn: Call, shapes: tuple[tuple[int, ...], ...]) -> None:
    compare(fn, *shapes)


def test_transpose_of_a_matrix_swaps_its_dims_instead_of_returning_it_unchanged() -> None:
    """The silently wrong case of the issue: numpy's meaning made ``transpose(0, 1)`` a no-op."""
    x = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(x.transpose(0, 1).numpy(), [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_array_equal(x.transpose(1, 0).numpy(), x.numpy().T)


def test_numpy_style_transpose_is_refused_and_points_to_permute() -> None:
    x = Tensor(np.zeros((2, 3, 4)))
    with pytest.raises(TypeError, match=r"transpose: expected two dims.*permute\(2, 0, 1\)"):
        x.transpose(2, 0, 1)
    with pytest.raises(TypeError, match="transpose: expected two dims"):
        x.transpose()
    assert x.permute(2, 0, 1).shape == (4, 2, 3)


def test_view_is_a_superset_copying_where_torch_would_refuse() -> None:
    a = np.arange(6.0).reshape(2, 3)
    with pytest.raises(RuntimeError):
        torch.tensor(a).t().view(-1)
    x = Tensor(a, requires_grad=True)
    y = x.t().view(-1)
    np.testing.assert_array_equal(y.numpy(), a.T.reshape(-1))
    (y * Tensor(np.arange(6.0))).sum().backward()
    np.testing.assert_array_equal(x.grad, np.arange(6.0).reshape(3, 2).T)


def test_view_of_a_contiguous_tensor_shares_its_memory() -> None:
    x = Tensor(np.zeros((2, 3)))
    assert np.shares_memory(x.view(6).numpy(), x.numpy())


def test_clone_is_a_copy_in_new_memory_recorded_as_an_op() -> None:
    x = Tensor(np.zeros((2, 3)), requires_grad=True)
    y = x.clone()
    assert not np.shares_memory(y.numpy(), x.numpy())
    assert y._ctx is not None and y._ctx.name == "clone"
    assert Tensor(np.zeros(2)).clone()._ctx is None  # nothing to record without grad


def test_contiguous_and_is_contiguous() -> None:
    x = Tensor(np.zeros((2, 3)))
    assert x.is_contiguous() and x.contiguous() is x
    assert not x.t().is_contiguous() and x.t().contiguous().is_contiguous()
    assert torch.zeros(2, 3).t().is_contiguous() is x.t().is_contiguous()


def test_split_and_chunk_return_tuples() -> None:
    x = Tensor(np.zeros((5, 2)))
    assert isinstance(x.split(2), tuple) and isinstance(x.chunk(2), tuple)
    assert [p.shape[0] for p in x.split(2)] == [2, 2, 1]
    for n in range(0, 9):
        for chunks in range(1, 7):
            ours = [p.shape[0] for p in Tensor(np.zeros(n)).chunk(chunks)]
            assert ours == [p.shape[0] for p in torch.zeros(n).chunk(chunks)], (n, chunks)


# ---------------------------------------------------------------------- cat / stack dtypes
DTYPE_PAIRS = [
    (np.float32, np.float64),
    (np.int64, np.float32),
    (np.int32, np.int64),
    (np.bool_, np.int32),
    (np.uint8, np.int8),
    (np.bool_, np.float32),
    (np.uint8, np.int32),
]


@pytest.mark.parametrize(("first", "second"), DTYPE_PAIRS)
@pytest.mark.parametrize("join", ["cat", "stack"])
def test_cat_and_stack_promote_mixed_dtypes_as_torch(first: type, second: type, join: str) -> None:
    a, b = np.ones((2, 2), dtype=first), np.zeros((2, 2), dtype=second)
    ours = getattr(tc, join)([Tensor(a), Tensor(b)])
    theirs = getattr(torch, join)([torch.from_numpy(a), torch.from_numpy(b)])
    assert_same(ours, theirs)


def test_cat_of_mixed_float_dtypes_is_differentiable() -> None:
    a = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    out = tc.cat([a, b])
    assert out.dtype == np.float64
    (out * Tensor(np.arange(5.0))).sum().backward()
    assert a.grad.dtype == np.float32
    np.testing.assert_array_equal(a.grad, [0, 1])
    np.testing.assert_array_equal(b.grad, [2, 3, 4])


# ---------------------------------------------------------------------- size, conversions
def test_size_numel_dim_shape() -> None:
    x, ref = Tensor(np.zeros((2, 3, 4))), torch.zeros(2, 3, 4)
    assert x.size() == tuple(ref.size()) == (2, 3, 4)
    assert isinstance(x.size(), Size) and isinstance(x.size(), tuple)
    assert x.size().numel() == ref.size().numel() == 24
    assert repr(x.size()) == "Size([2, 3, 4])"
    assert [x.size(d) for d in (0, 1, 2, -1, -3)] == [ref.size(d) for d in (0, 1, 2, -1, -3)]
    assert x.size(dim=1) == 3
    assert x.numel() == ref.numel() and x.dim() == ref.dim() == x.ndim == 3
    assert x.shape == tuple(ref.shape) and type(x.shape) is tuple
    assert Tensor(1.0).size() == () and Tensor(1.0).numel() == 1 and Tensor(1.0).dim() == 0
    assert Tensor(np.zeros((0, 3))).numel() == 0


def test_size_is_no_longer_numpys_element_count() -> None:
    x = Tensor(np.zeros((2, 3)))
    assert callable(x.size) and x.size() != 6 and x.numel() == 6


CONVERSIONS: list[tuple[str, Call]] = [
    ("float", lambda x: x.float()),
    ("double", lambda x: x.double()),
    ("long", lambda x: x.long()),
    ("int", lambda x: x.int()),
    ("bool", lambda x: x.bool()),
]


@pytest.mark.parametrize("fn", [c[1] for c in CONVERSIONS], ids=[c[0] for c in CONVERSIONS])
@pytest.mark.parametrize("source", [np.float64, np.float32, np.int64, np.int32, np.bool_])
def test_dtype_conversions_match_torch(fn: Call, source: type) -> None:
    values = np.array([-2.7, -1.0, -0.0, 0.0, 0.4, 1.0, 2.5, 300.9])
    array = values.astype(source)
    assert_same(fn(Tensor(array)), fn(torch.from_numpy(array.copy())))


TO_CALLS: list[tuple[str, Call, Call]] = [
    ("to float64", lambda x: x.to(np.float64), lambda x: x.to(torch.float64)),
    ("to float32", lambda x: x.to(np.float32), lambda x: x.to(torch.float32)),
    ("to int64", lambda x: x.to(np.int64), lambda x: x.to(torch.int64)),
    ("to dtype=", lambda x: x.to(dtype=np.int32), lambda x: x.to(dtype=torch.int32)),
    ("to bool", lambda x: x.to(np.bool_), lambda x: x.to(torch.bool)),
    ("to cpu", lambda x: x.to("cpu"), lambda x: x.to("cpu")),
    ("to device=cpu", lambda x: x.to(device="cpu"), lambda x: x.to(device="cpu")),
    ("to cpu and dtype", lambda x: x.to("cpu", np.float64), lambda x: x.to("cpu", torch.float64)),
    (
        "to other",
        lambda x: x.to(Tensor(np.zeros(1, np.int64))),
        lambda x: x.to(torch.zeros(1).long()),
    ),
    ("cpu", lambda x: x.cpu(), lambda x: x.cpu()),
]


@pytest.mark.parametrize(
    ("ours", "theirs"), [c[1:] for c in TO_CALLS], ids=[c[0] for c in TO_CALLS]
)
def test_to_matches_torch(ours: Call, theirs: Call) -> None:
    array = np.array([[-1.5, 0.0], [2.25, 3.0]], dtype=np.float32)
    x, ref = Tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)
    out, expected = ours(x), theirs(ref)
    assert_same(out, expected)
    assert out.requires_grad == expected.requires_grad
    if expected.requires_grad:
        (out * 2.0).sum().backward()
        (expected * 2.0).sum().backward()
        np.testing.assert_array_equal(x.grad, ref.grad.numpy())


def test_to_without_a_change_returns_the_tensor_and_copy_makes_a_new_one() -> None:
    x = Tensor(np.zeros(2, dtype=np.float32))
    assert x.to(np.float32) is x and x.to("cpu") is x
    copied = x.to(np.float32, copy=True)
    assert copied is not x and not np.shares_memory(copied.numpy(), x.numpy())


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps", "meta"])
def test_to_another_device_is_a_clear_error(device: str) -> None:
    with pytest.raises(ValueError, match=f"to: this library runs on the CPU only.*'{device}'"):
        Tensor([1.0]).to(device)
    with pytest.raises(ValueError, match="CPU only"):
        Tensor([1.0]).to(device=device)


def test_integer_and_bool_conversions_have_no_gradient_as_in_torch() -> None:
    x = Tensor(np.array([1.5, -2.0]), requires_grad=True)
    for converted in (x.long(), x.int(), x.bool(), x.to(np.int64), x.astype(np.int32)):
        assert not converted.requires_grad and converted._ctx is None
    assert x.float().requires_grad  # float to float stays differentiable


SCALARS = [
    ("0-d float", np.array(2.75)),
    ("1-element float", np.array([-2.75])),
    ("1x1 float32", np.array([[0.5]], dtype=np.float32)),
    ("0-d int", np.array(7)),
    ("negative int", np.array([-7])),
    ("0-d bool", np.array(True)),
    ("zero", np.array(0.0)),
]


@pytest.mark.parametrize("array", [s[1] for s in SCALARS], ids=[s[0] for s in SCALARS])
def test_python_scalar_conversions_match_torch(array: np.ndarray) -> None:
    x, ref = Tensor(array), torch.from_numpy(array.copy())
    assert float(x) == float(ref) and type(float(x)) is float
    assert int(x) == int(ref) and type(int(x)) is int
    assert bool(x) is bool(ref)
    assert x.item() == ref.item() and type(x.item()) is type(ref.item())
    assert x.tolist() == ref.tolist()
    if array.dtype.kind in "bi":
        assert [10, 20, 30, 40, 50, 60, 70, 80][x] == [10, 20, 30, 40, 50, 60, 70, 80][ref]


@pytest.mark.parametrize("shape", [(2,), (0,), (2, 3)])
def test_python_scalar_conversions_of_several_elements_raise_torchs_errors(shape: tuple) -> None:
    x, ref = Tensor(np.ones(shape)), torch.ones(shape)
    for convert in (float, int):
        with pytest.raises(ValueError) as theirs:
            convert(ref)
        with pytest.raises(ValueError) as ours:
            convert(x)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(RuntimeError) as theirs:
        bool(ref)
    with pytest.raises(RuntimeError) as ours:
        bool(x)
    assert str(ours.value) == str(theirs.value)


def test_index_conversion_accepts_only_one_element_integer_tensors() -> None:
    assert [1, 2, 3][Tensor(np.array([2]))] == 3
    assert list(range(Tensor(np.array(4))))[-1] == 3
    for bad, ref in [
        (Tensor(1.0), torch.tensor(1.0)),
        (Tensor(np.array([1, 2])), torch.tensor([1, 2])),
    ]:
        with pytest.raises(TypeError) as theirs:
            [1, 2, 3][ref]
        with pytest.raises(TypeError) as ours:
            [1, 2, 3][bad]
        assert str(ours.value) == str(theirs.value)


def test_len_iter_tolist_numpy() -> None:
    array = np.arange(6.0).reshape(3, 2)
    x, ref = Tensor(array), torch.tensor(array)
    assert len(x) == len(ref) == 3
    assert x.tolist() == ref.tolist()
    assert [r.tolist() for r in x] == [r.tolist() for r in ref]
    assert np.asarray(x) is x.numpy() or np.shares_memory(np.asarray(x), x.numpy())
    assert np.asarray(x, dtype=np.float32).dtype == np.float32
    for fn in (len, iter):
        with pytest.raises(TypeError) as theirs:
            fn(torch.tensor(1.0))
        with pytest.raises(TypeError) as ours:
            fn(Tensor(1.0))
        assert str(ours.value) == str(theirs.value)


def test_item_assignment_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="does not support item assignment"):
        Tensor(np.zeros(3))[0] = 1.0


# ---------------------------------------------------------------------- indexing
def _torch_index(index: Any) -> Any:
    """The same index for torch: arrays (and our Tensors) become torch tensors."""
    if isinstance(index, tuple):
        return tuple(_torch_index(part) for part in index)
    if isinstance(index, np.ndarray):
        return torch.from_numpy(index.copy())
    return index


def _tensor_index(index: Any) -> Any:
    """The same index with every array as a Tensor of this library."""
    if isinstance(index, tuple):
        return tuple(_tensor_index(part) for part in index)
    if isinstance(index, np.ndarray):
        return Tensor(index)
    return index


MASK0 = np.array([True, False, True])
MASK01 = np.array([[True, False, True, False], [False, False, True, True], [True] * 4])
INDICES: list[tuple[str, Any]] = [
    ("int", 1),
    ("negative int", -1),
    ("ints", (1, 2)),
    ("negative ints", (-1, -2, -3)),
    ("slice", slice(1, None)),
    ("slice step", slice(None, None, 2)),
    ("slice negative bounds", slice(-2, None)),
    ("slice beyond bounds", slice(-100, 100)),
    ("slices", (slice(None), slice(1, 3), slice(0, 5, 3))),
    ("empty slice", slice(2, 1)),
    ("ellipsis and int", (Ellipsis, 0)),
    ("int ellipsis", (0, Ellipsis)),
    ("ellipsis alone", Ellipsis),
    ("empty tuple", ()),
    ("None", None),
    ("None int None", (None, 0, None)),
    ("int ellipsis None", (0, Ellipsis, None)),
    ("slice None step", (slice(1, 3), None, slice(None, None, 2))),
    ("list", [0, 2]),
    ("list negative", [-1, -3]),
    ("list with repeats", [0, 0, 2, 0]),
    ("empty list", []),
    ("2-d array", np.array([[0, 1], [1, 2]])),
    ("array with repeats", np.array([2, 2, 1, 2])),
    ("empty array", np.array([], dtype=np.int64)),
    ("two arrays", (np.array([0, 1]), np.array([1, 3]))),
    ("three arrays", ([2, 0], [3, 1], [4, 0])),
    ("arrays after a slice", (slice(None), [0, 0, 1], [1, 2, 3])),
    ("broadcast arrays", (slice(None), np.array([0, 1]), np.array([[1], [2]]))),
    ("array and slice", (np.array([0, 2]), slice(1, 3))),
    ("int, slice, list", (0, slice(None), [1, 2])),
    ("int, ellipsis, list", (0, Ellipsis, [1, 2])),
    ("None int None list", (None, 0, None, [1, 2])),
    ("list, slice, int", ([0, 1], slice(None), 0)),
    ("list None list", ([0, 1], None, [1, 2])),
    ("int list adjacent", (1, [0, 3])),
    ("slice int list", (slice(None), 1, [0, 4])),
    ("negative int, stepped slice, list", (-1, slice(None, None, 2), [4, -1])),
    ("repeated array and int", (np.array([1, 1]), 2)),
    ("0-d int array", np.array(1)),
    ("0-d int array with a list", (np.array(0), slice(None), [1, 2])),
    ("mask", MASK0),
    ("2-d mask", MASK01),
    ("all-false mask", np.zeros(3, dtype=bool)),
    ("int then mask", (0, np.array([True, False, True, False]))),
    ("mask, slice, int", (MASK0, slice(None), 0)),
    ("mask and list", (MASK0, [0, 3])),
    ("True", True),
    ("False", False),
    ("True and list", (True, [0, 1])),
    ("ellipsis None", (Ellipsis, None)),
    ("np integer", np.int64(2)),
]


@pytest.mark.parametrize("index", [i[1] for i in INDICES], ids=[i[0] for i in INDICES])
@pytest.mark.parametrize("as_tensor", [False, True], ids=["arrays", "Tensors"])
def test_indexing_matches_torch_in_value_shape_and_gradient(index: Any, as_tensor: bool) -> None:
    ours_index = _tensor_index(index) if as_tensor else index
    compare(
        lambda lib, x: x[ours_index if lib is tc else _torch_index(index)],
        (3, 4, 5),
    )


@pytest.mark.parametrize("index", [(), Ellipsis, None, True, False, (None, Ellipsis)], ids=repr)
def test_indexing_a_0d_tensor_matches_torch(index: Any) -> None:
    compare(lambda lib, x: x[index], ())


def test_int_mixed_with_a_separated_list_gives_torchs_shape_not_numpys() -> None:
    """numpy moves the list's dim first, (2, 4); PyTorch applies the int first, (4, 2)."""
    x = Tensor(np.arange(60.0).reshape(3, 4, 5))
    assert np.arange(60.0).reshape(3, 4, 5)[0, :, [1, 2]].shape == (2, 4)
    assert x[0, :, [1, 2]].shape == (4, 2)
    np.testing.assert_array_equal(x[0, :, [1, 2]].numpy(), x.numpy()[0][:, [1, 2]])


def test_a_0d_integer_tensor_index_acts_as_an_int() -> None:
    x = Tensor(np.arange(60.0).reshape(3, 4, 5))
    assert x[Tensor(np.array(1)), :, [1, 2]].shape == (4, 2)
    assert x[Tensor(np.array(2))].shape == (4, 5)


def test_negative_step_slices_are_a_superset_of_torch() -> None:
    """torch refuses ``x[::-1]``; here it reverses, as numpy (and ``flip``) does."""
    with pytest.raises(ValueError):
        torch.zeros(3)[::-1]
    x = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    y = x[::-1, ::-2]
    np.testing.assert_array_equal(y.numpy(), x.numpy()[::-1, ::-2])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1], [0, 1], [0, 1]])


def test_ambiguous_list_indices_are_refused() -> None:
    """A short list holding lists is a tuple to PyTorch (deprecated) and an array to numpy."""
    x = Tensor(np.zeros((3, 4)))
    with pytest.raises(TypeError, match=r"getitem: a list index.*x\[tuple\(index\)\]"):
        x[[[0, 1], [1, 2]]]
    with pytest.raises(TypeError, match="getitem: a list index"):
        x[[0, slice(None)]]
    assert x[([0, 1], [1, 2])].shape == (2,)  # the tuple: both libraries agree
    assert x[np.array([[0, 1], [1, 2]])].shape == (2, 2, 4)  # the array: both agree
    long = [[0]] * 40  # 32 entries or more: one array in both libraries
    assert x[long].shape == tuple(torch.zeros(3, 4)[long].shape)


def test_uint8_index_arrays_are_refused() -> None:
    with pytest.raises(TypeError, match="uint8"):
        Tensor(np.zeros(3))[np.array([1, 0, 1], dtype=np.uint8)]


# ---------------------------------------------------------------------- errors
ERRORS: list[tuple[str, Call, tuple[tuple[int, ...], ...]]] = [
    ("transpose dim out of range", lambda lib, x: x.transpose(0, 3), ((2, 3),)),
    ("t of 3-d", lambda lib, x: x.t(), ((2, 3, 4),)),
    ("mT of 1-d", lambda lib, x: x.mT, ((3,),)),
    ("permute not a permutation", lambda lib, x: x.permute(0, 0), ((2, 3),)),
    ("permute too few dims", lambda lib, x: x.permute(0), ((2, 3),)),
    ("squeeze dim out of range", lambda lib, x: x.squeeze(5), ((2, 1),)),
    ("squeeze repeated dim", lambda lib, x: x.squeeze((1, -1)), ((2, 1),)),
    ("squeeze 0-d dim 1", lambda lib, x: x.squeeze(1), ((),)),
    ("unsqueeze out of range", lambda lib, x: x.unsqueeze(3), ((2, 3),)),
    ("flatten start after end", lambda lib, x: x.flatten(1, 0), ((2, 3, 4),)),
    ("flatten 0-d dim 1", lambda lib, x: x.flatten(1), ((),)),
    ("view wrong size", lambda lib, x: x.view(4, 2), ((2, 3),)),
    ("view two -1", lambda lib, x: x.view(-1, -1), ((2, 3),)),
    ("reshape wrong size", lambda lib, x: x.reshape(5), ((2, 3),)),
    ("expand -1 in a new dim", lambda lib, x: x.expand(-1, 3, 1), ((3, 1),)),
    ("expand a non-1 dim", lambda lib, x: x.expand(4, 1), ((3, 1),)),
    ("expand fewer dims", lambda lib, x: x.expand(3), ((3, 1),)),
    ("repeat fewer sizes", lambda lib, x: x.repeat(2), ((3, 1),)),
    ("flip repeated dim", lambda lib, x: x.flip(0, 0), ((3, 1),)),
    ("flip dim out of range", lambda lib, x: x.flip(2), ((3, 1),)),
    ("split sections do not add up", lambda lib, x: x.split([2, 4]), ((7,),)),
    ("split size 0", lambda lib, x: x.split(0), ((7,),)),
    ("split negative size", lambda lib, x: x.split(-1), ((7,),)),
    ("split 0-d", lambda lib, x: x.split(1), ((),)),
    ("chunk 0", lambda lib, x: x.chunk(0), ((4,),)),
    ("unbind 0-d", lambda lib, x: x.unbind(), ((),)),
    ("cat 0-d", lambda lib, a, b: lib.cat([a, b]), ((), ())),
    ("cat shapes differ", lambda lib, a, b: lib.cat([a, b]), ((2, 3), (2, 4))),
    ("cat ranks differ", lambda lib, a, b: lib.cat([a, b]), ((2, 3), (3,))),
    ("cat dim out of range", lambda lib, a, b: lib.cat([a, b], dim=2), ((2, 3), (2, 3))),
    ("stack shapes differ", lambda lib, a, b: lib.stack([a, b]), ((2, 3), (3, 2))),
    ("cat nothing", lambda lib: lib.cat([]), ()),
    ("size out of range", lambda lib, x: x.size(2), ((2, 3),)),
    ("size of 0-d", lambda lib, x: x.size(0), ((),)),
    ("index out of range", lambda lib, x: x[3], ((3, 4),)),
    ("negative index out of range", lambda lib, x: x[-4], ((3, 4),)),
    ("list index out of range", lambda lib, x: x[[0, 3]], ((3, 4),)),
    ("too many indices", lambda lib, x: x[0, 0, 0], ((3, 4),)),
    ("float index", lambda lib, x: x[1.0], ((3, 4),)),
    ("index a 0-d tensor", lambda lib, x: x[0], ((),)),
    (
        "mask of the wrong shape",
        lambda lib, x: x[torch.ones(4, dtype=torch.bool) if lib is torch else np.ones(4, bool)],
        ((3, 4),),
    ),
    ("arrays that do not broadcast", lambda lib, x: x[[0, 1], [0, 1, 2]], ((3, 4),)),
    ("float of several", lambda lib, x: float(x), ((2,),)),
    ("int of empty", lambda lib, x: int(x), ((0,),)),
    ("bool of several", lambda lib, x: bool(x), ((2, 2),)),
    ("len of 0-d", lambda lib, x: len(x), ((),)),
    ("iterate 0-d", lambda lib, x: list(x), ((),)),
    ("index with a float tensor", lambda lib, x: [1, 2][x], ((),)),
]


@pytest.mark.parametrize(("fn", "shapes"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_calls_torch_refuses_are_refused(fn: Call, shapes: tuple[tuple[int, ...], ...]) -> None:
    both_raise(fn, *shapes)


def test_errors_name_the_op() -> None:
    x = Tensor(np.ones((2, 3)))
    for call, op in [
        (lambda: x.transpose(0, 3), "transpose"),
        (lambda: x.squeeze(5), "squeeze"),
        (lambda: x.split([1, 2]), "split"),
        (lambda: x.chunk(0), "chunk"),
        (lambda: x.expand(-1, 2, 3), "expand"),
        (lambda: x.flip(0, 0), "flip"),
        (lambda: x.repeat(2), "repeat"),
        (lambda: tc.cat([Tensor(1.0)]), "cat"),
        (lambda: x.view(np.float32), "view"),
        (lambda: x.view(4), "view"),
        (lambda: x[5], "getitem"),
    ]:
        with pytest.raises((ValueError, TypeError, IndexError)) as info:
            call()
        assert str(info.value).startswith(f"{op}: "), str(info.value)
