"""In-place ReLU (``Tensor.relu_``, ``nn.ReLU(inplace=True)``): values, gradients, refusals.

PyTorch's semantics: ``x.relu_()`` overwrites ``x``'s memory, returns ``x``, and every later
use of ``x`` differentiates through the ReLU. It is refused (``RuntimeError``) wherever the
old values could still be needed for a gradient.

Also here: ReLU's backward writes over its upstream gradient exactly when the engine says
nothing else holds it (``Function.upstream_writable``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_cnn import Tensor, conv2d, detect_anomaly, max_pool2d, nn, no_grad
from tinygrad_cnn.models import lenet
from tinygrad_cnn.nn.scopes import record_module_scope
from tinygrad_cnn.ops.elementwise import Relu
from tinygrad_cnn.testing import assert_grads, kink_free_arrays, shapes


# ---------------------------------------------------------------------- values and gradients
@given(kink_free_arrays(shapes(max_dims=4)), st.floats(0.5, 2.0))
def test_relu_in_place_has_the_gradients_of_relu(x: np.ndarray, scale: float) -> None:
    assert_grads(lambda t: (t * scale).relu_(), x, dtypes=(np.float64, np.float32))

    a = Tensor(x, requires_grad=True)
    in_place = (a * scale).relu_()
    in_place.backward(np.ones_like(x))
    b = Tensor(x, requires_grad=True)
    (b * scale).relu().backward(np.ones_like(x))
    np.testing.assert_array_equal(in_place.numpy(), np.maximum(x * scale, 0))
    np.testing.assert_array_equal(a.grad, b.grad)


def test_relu_in_place_overwrites_the_memory_and_returns_the_same_tensor() -> None:
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 3, 6, 5)))
    w = Tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    h = conv2d(x, w)  # an NCHW view of channels-last memory
    memory, before = h.numpy(), h.numpy().copy()
    assert h.relu_() is h
    assert h.numpy() is memory
    np.testing.assert_array_equal(memory, np.maximum(before, 0))


def test_later_uses_of_the_tensor_differentiate_through_the_relu() -> None:
    a = Tensor(np.array([[-1.0, 2.0], [3.0, -4.0]]), requires_grad=True)
    h = a * 2
    y = h.relu_()
    ((h * 3).sum() + y.sum()).backward()  # h is the ReLU's output: both terms see its mask
    np.testing.assert_array_equal(a.grad, [[0.0, 8.0], [8.0, 0.0]])


def test_later_uses_match_torch() -> None:
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(1).standard_normal((3, 4))
    a = Tensor(data, requires_grad=True)
    h = a.tanh() * 2
    y = h.relu_()
    (h * h + y).sum().backward()
    reference = torch.tensor(data, requires_grad=True)
    th = reference.tanh() * 2
    ty = th.relu_()
    (th * th + ty).sum().backward()
    np.testing.assert_allclose(a.grad, reference.grad.numpy(), rtol=1e-12, atol=0)


def test_chained_relu_in_place_and_no_grad() -> None:
    a = Tensor(np.array([-2.0, 0.5, 3.0]), requires_grad=True)
    out = (a * 1).relu_().relu_()
    out.backward(np.ones(3))
    np.testing.assert_array_equal(a.grad, [0.0, 1.0, 1.0])
    with no_grad():
        h = a * 1
        assert h.relu_() is h
    assert not h.requires_grad
    np.testing.assert_array_equal(h.numpy(), [0.0, 0.5, 3.0])


def test_a_leaf_without_grad_is_overwritten_with_its_array() -> None:
    array = np.array([-1.0, 2.0])
    t = Tensor(array)  # shares the array, as torch.from_numpy
    t.relu_()
    np.testing.assert_array_equal(array, [0.0, 2.0])


# ---------------------------------------------------------------------- refusals
def _refusals() -> list[tuple[str, object]]:
    a = Tensor(np.array([[1.0, -2.0], [-3.0, 4.0]]), requires_grad=True)

    def used_before() -> Tensor:
        h = a * 1
        _ = h.sum()
        return h

    return [
        ("leaf tensor that requires grad", lambda: a),
        ("already an input of a recorded op", used_before),
        ("exp, the op that made it, saved its values", lambda: a.exp()),
        ("tanh, the op that made it, saved its values", lambda: a.tanh()),
        ("view of the memory of an input of reshape", lambda: (a * 1).reshape(4)),
        ("view of the memory of an input of getitem", lambda: (a * 1)[0]),
        ("read-only", lambda: Tensor(np.broadcast_to(np.ones(1), (2, 2)))),
    ]


@pytest.mark.parametrize(("reason", "make"), _refusals(), ids=lambda v: str(v)[:30])
def test_relu_in_place_is_refused_where_a_gradient_could_go_wrong(reason, make) -> None:
    tensor = make()
    before = tensor.numpy().copy()
    with pytest.raises(RuntimeError, match=rf"relu_: cannot overwrite .*{reason}"):
        tensor.relu_()
    np.testing.assert_array_equal(tensor.numpy(), before)  # nothing was written


# ---------------------------------------------------------------------- the module
def test_relu_module_in_place() -> None:
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.ReLU()) == "ReLU()"
    with pytest.raises(TypeError, match="inplace must be a bool, got str"):
        nn.ReLU(inplace="yes")
    h = Tensor(np.array([-1.0, 1.0]), requires_grad=True) * 1
    assert nn.ReLU(inplace=True)(h) is h
    assert h._ctx.scope is not None  # the module view still finds the in-place op


def test_identity_module_tags_no_op_of_its_caller() -> None:
    h = Tensor(np.array([-1.0, 1.0]), requires_grad=True) * 1
    assert record_module_scope(object(), [h], h) == 0


def test_lenet_with_in_place_relus_trains_exactly_as_with_out_of_place_ones() -> None:
    images = np.random.default_rng(2).standard_normal((3, 1, 28, 28)).astype(np.float32)
    models = [lenet(seed=0), lenet(seed=0)]
    for name in ("relu1", "relu2", "relu3"):
        assert models[0]._modules[name].inplace
        models[1]._modules[name].inplace = False
    losses = [model(Tensor(images)).cross_entropy([1, 2, 3]) for model in models]
    for loss in losses:
        loss.backward()
    assert losses[0].item() == losses[1].item()
    for (name, p), q in zip(models[0].named_parameters(), models[1].parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, q.grad, err_msg=name)


# ---------------------------------------------------------------------- gradients overwritten
def _relu_backward_overwrites(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record, for each ReLU backward, whether it wrote its result over its upstream."""
    overwrote: list[bool] = []
    backward = Relu.backward

    def recording(self: Relu, g: Tensor) -> tuple[Tensor]:
        result = backward(self, g)
        overwrote.append(result[0].data is g.data)
        return result

    monkeypatch.setattr(Relu, "backward", recording)
    return overwrote


def test_relu_backward_overwrites_only_gradients_nothing_else_holds(monkeypatch) -> None:
    overwrote = _relu_backward_overwrites(monkeypatch)
    rng = np.random.default_rng(3)
    data = rng.standard_normal((2, 3, 4, 4))
    x = Tensor(data, requires_grad=True)
    max_pool2d(x.relu(), 2).sum().backward()  # the pool's gradient is a new array
    y = Tensor(data, requires_grad=True)
    (y.relu() * 2).sum().backward()  # mul's gradient is not declared new
    z = Tensor(data, requires_grad=True)
    with detect_anomaly():  # anomaly mode reports the upstream gradient after backward
        max_pool2d(z.relu(), 2).sum().backward()
    assert overwrote == [True, False, False]
    np.testing.assert_array_equal(x.grad, z.grad)
    np.testing.assert_array_equal(y.grad, 2.0 * (data > 0))


def test_a_gradient_shared_by_two_relus_is_not_overwritten(monkeypatch) -> None:
    overwrote = _relu_backward_overwrites(monkeypatch)
    a = Tensor(np.array([1.0, -1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([-1.0, 1.0, 2.0]), requires_grad=True)
    upstream = np.array([1.0, 2.0, 3.0])
    (a.relu() + b.relu()).backward(upstream)  # add hands the same array to both relus
    assert overwrote == [False, False]
    np.testing.assert_array_equal(a.grad, [1.0, 0.0, 3.0])
    np.testing.assert_array_equal(b.grad, [0.0, 2.0, 3.0])
    np.testing.assert_array_equal(upstream, [1.0, 2.0, 3.0])
