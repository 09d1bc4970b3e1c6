"""detect_anomaly stops at the op that creates a NaN or an infinity, and names the user's line.

The planted bug: ``log(0)`` three ops before the loss. In forward, anomaly mode stops at
``log`` itself. When the forward value is clamped (``maximum(log x, -5)``) the loss is finite
and the NaN only appears in backward (``0 / 0`` in log's gradient); without anomaly mode it
lands silently in ``x.grad``, with it backward stops at ``log`` (not at ``maximum``, the op
downstream of it).
"""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from tinygrad_cnn import Tensor, conv2d, cross_entropy, max_pool2d
from tinygrad_cnn.debug import AnomalyError, describe_array, detect_anomaly, is_anomaly_enabled
from tinygrad_cnn.function import anomaly_hooks
from tinygrad_cnn.models import build_model

# log(0) and 0 / 0 are the planted bugs: numpy's warnings about them are expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def line_after() -> int:
    """The line number just after the caller's line."""
    return sys._getframe(1).f_lineno + 1


def inputs() -> tuple[Tensor, Tensor]:
    x = Tensor(np.array([1.0, 0.0, 2.0, 4.0], dtype=np.float32), requires_grad=True)
    w = Tensor(np.array([0.5, 1.0, -1.0, 2.0], dtype=np.float32), requires_grad=True)
    return x, w


def test_forward_stops_at_the_op_that_makes_the_first_infinity() -> None:
    x, w = inputs()
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        line = line_after()
        y = x.log()
        z = y * w  # three ops from log to the loss: mul, exp, sum
        (z.exp()).sum()
    error = info.value
    assert isinstance(error, FloatingPointError)
    assert error.op_name == "log" and error.phase == "forward"
    assert error.call_site is not None
    assert error.call_site.filename == __file__ and error.call_site.lineno == line
    assert error.call_site.function == "test_forward_stops_at_the_op_that_makes_the_first_infinity"
    message = str(error)
    assert message.startswith("detect_anomaly: log produced a non-finite output in forward")
    assert "0 NaN, 0 +Inf, 1 -Inf" in message  # the output
    assert "input 0: shape (4,) float32, min 0, max 4, 0 NaN, 0 +Inf, 0 -Inf" in message
    assert f"test_anomaly.py:{line}" in message and "y = x.log()" in message


def clamped_log_loss(x: Tensor, w: Tensor) -> Tensor:
    """log(x), clamped at -5 (so log(0) = -inf gives a finite loss), times w, averaged."""
    return (x.log().maximum(-5.0) * w).mean()


def test_without_anomaly_mode_the_nan_lands_silently_in_the_gradient() -> None:
    x, w = inputs()
    loss = clamped_log_loss(x, w)
    assert np.isfinite(loss.item())
    loss.backward()
    assert np.isnan(x.grad.numpy()[1])


def test_backward_stops_at_the_op_that_makes_the_gradient_non_finite() -> None:
    x, w = inputs()
    with detect_anomaly(check_forward=False):
        loss = clamped_log_loss(x, w)
        with pytest.raises(AnomalyError) as info:
            loss.backward()
    error = info.value
    assert error.op_name == "log" and error.phase == "backward" and error.input_index == 0
    site = error.call_site  # the innermost frame outside the package: inside the helper
    assert site is not None and site.function == "clamped_log_loss"
    assert site.lineno == clamped_log_loss.__code__.co_firstlineno + 2
    message = str(error)
    assert message.startswith("detect_anomaly: log returned a non-finite gradient in backward")
    assert "1 NaN" in message.splitlines()[0]  # 0 / 0 at x = 0
    assert "forward called from" in message and "x.log().maximum(-5.0)" in message
    assert "upstream gradient: shape (4,) float32" in message
    assert "input 0: shape (4,) float32, min 0, max 4" in message
    assert x.grad is None  # stopped before anything reached the leaves


def test_backward_anomaly_with_a_finite_forward_pass() -> None:
    x = Tensor(np.array([[0.0, 1.0], [4.0, 9.0]]), requires_grad=True)
    with detect_anomaly():  # sqrt(0) = 0 is finite, its gradient 1 / (2 * 0) is not
        line = line_after()
        roots = x.sqrt()
        loss = (roots * 3).sum()
        with pytest.raises(AnomalyError) as info:
            loss.backward()
    assert info.value.op_name == "sqrt" and info.value.phase == "backward"
    assert info.value.call_site is not None and info.value.call_site.lineno == line
    assert "1 +Inf" in str(info.value).splitlines()[0]


def test_backward_outside_a_recorded_forward_says_the_call_site_is_missing() -> None:
    x = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    loss = x.sqrt().sum()
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        loss.backward()
    assert info.value.call_site is None
    assert "forward call site not recorded" in str(info.value)


def test_a_non_finite_upstream_gradient_is_pointed_out() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 2
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        y.backward(np.array([np.inf, 1.0]))
    assert info.value.op_name == "mul"
    assert "upstream gradient it received was already non-finite" in str(info.value)


def small_cnn_step(seed: int = 0) -> tuple[float, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((4, 1, 10, 10)).astype(np.float32))
    w = Tensor(rng.standard_normal((3, 1, 3, 3)).astype(np.float32), requires_grad=True)
    fc = Tensor(rng.standard_normal((48, 10)).astype(np.float32) / 7, requires_grad=True)
    logits = max_pool2d(conv2d(x, w).relu(), 2).reshape(4, -1) @ fc
    loss = cross_entropy(logits, np.array([1, 2, 3, 4]))
    loss.backward()
    return loss.item(), [w.grad, fc.grad]


def test_quiet_on_a_correct_cnn_and_the_same_results() -> None:
    loss_off, grads_off = small_cnn_step()
    with detect_anomaly():
        loss_on, grads_on = small_cnn_step()
    assert loss_on == loss_off
    for on, off in zip(grads_on, grads_off, strict=True):
        np.testing.assert_array_equal(on, off)


def test_the_call_site_is_the_users_line_through_nn_modules() -> None:
    model = build_model("seed")
    images = np.zeros((1, 1, 28, 28), dtype=np.float32)
    images[0, 0, 5, 5] = np.nan  # a corrupt pixel
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        line = line_after()
        model(Tensor(images))
    assert info.value.op_name == "conv2d" and info.value.phase == "forward"
    assert info.value.call_site is not None and info.value.call_site.lineno == line
    assert "input 0: shape (1, 1, 28, 28) float32, min 0, max 0, 1 NaN" in str(info.value)


def test_off_by_default_and_restored_after_an_error() -> None:
    assert not is_anomaly_enabled() and anomaly_hooks.get() is None
    x = Tensor(np.array([0.0]), requires_grad=True)
    y = x.log()  # no error outside anomaly mode
    assert np.isneginf(y.data[0])
    assert "anomaly_call_site" not in vars(y._ctx)  # nothing recorded when off
    with pytest.raises(AnomalyError), detect_anomaly():
        assert is_anomaly_enabled()
        x.log()
    assert not is_anomaly_enabled()


def test_anomaly_mode_is_per_thread() -> None:
    seen: list[bool] = []
    with detect_anomaly():
        worker = threading.Thread(target=lambda: seen.append(is_anomaly_enabled()))
        worker.start()
        worker.join()
        assert is_anomaly_enabled()
    assert seen == [False]


def test_describe_array_counts_and_ranges() -> None:
    values = np.array([np.nan, -np.inf, 1.5, -2.0, np.inf, np.nan])
    assert describe_array(values) == "shape (6,) float64, min -2, max 1.5, 2 NaN, 1 +Inf, 1 -Inf"
    assert describe_array(np.array([3, 1])) == "shape (2,) int64, min 1, max 3"
    assert describe_array(np.zeros((0, 2))) == "shape (0, 2) float64, empty"
    assert describe_array(np.array([np.nan])).endswith("no finite values, 1 NaN, 0 +Inf, 0 -Inf")
