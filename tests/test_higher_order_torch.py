"""Higher-order gradients of whole computations against PyTorch (issue 14), in float64.

- one training step of a WGAN-GP critic (the gradient penalty differentiates a gradient);
- double backward through ``avg_pool2d``, ``log_softmax`` and ``tanh``;
- the third derivative of ``tanh`` on a scalar (closed form, and torch);
- the Hessian-vector product of a small CNN's loss (conv2d, max_pool2d, relu, matmul,
  cross_entropy) with respect to its weights.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor, nn, optim

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-9, 1e-12


def _close(ours: Tensor | None, theirs: object) -> None:
    assert ours is not None and theirs is not None
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------------- WGAN-GP
class Critic(nn.Module):
    """A small MLP critic: Linear, tanh, Linear, relu, Linear to one score per sample."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(4, 16, seed=1, dtype=np.float64)
        self.middle = nn.Linear(16, 16, seed=2, dtype=np.float64)
        self.score = nn.Linear(16, 1, seed=3, dtype=np.float64)

    def forward(self, x: Tensor) -> Tensor:
        return self.score(self.middle(self.hidden(x).tanh()).relu())


def _torch_critic(params: list[object], x: object) -> object:
    w1, b1, w2, b2, w3, b3 = params
    return F.linear(F.linear(F.linear(x, w1, b1).tanh(), w2, b2).relu(), w3, b3)


def test_one_wgan_gp_step_matches_torch() -> None:
    """critic loss = E[D(fake)] - E[D(real)] + 10 E[(||d D(x_hat) / d x_hat||_2 - 1)**2]."""
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((8, 4)), rng.standard_normal((8, 4)) + 1.0
    mix = rng.uniform(0.0, 1.0, (8, 1))
    x_hat = mix * real + (1 - mix) * fake
    penalty_weight, lr = 10.0, 0.05

    critic = Critic()
    start = [p.data.copy() for p in critic.parameters()]
    opt = optim.SGD(critic.parameters(), lr=lr)
    point = Tensor(x_hat, requires_grad=True)
    (slopes,) = tc.grad(critic(point).sum(), point, create_graph=True)
    assert slopes.requires_grad
    norms = (slopes * slopes).sum(dim=1).sqrt()
    penalty = ((norms - 1.0) ** 2).mean()
    loss = critic(Tensor(fake)).mean() - critic(Tensor(real)).mean() + penalty_weight * penalty
    opt.zero_grad()
    loss.backward()
    opt.step()

    params = [torch.tensor(a, requires_grad=True) for a in start]
    tpoint = torch.tensor(x_hat, requires_grad=True)
    (tslopes,) = torch.autograd.grad(_torch_critic(params, tpoint).sum(), tpoint, create_graph=True)
    tpenalty = (((tslopes * tslopes).sum(dim=1).sqrt() - 1.0) ** 2).mean()
    treal = _torch_critic(params, torch.tensor(real)).mean()
    tloss = _torch_critic(params, torch.tensor(fake)).mean() - treal + penalty_weight * tpenalty
    topt = torch.optim.SGD(params, lr=lr)
    topt.zero_grad()
    tloss.backward()
    topt.step()

    _close(slopes, tslopes)
    _close(loss, tloss)
    for ours, theirs in zip(critic.parameters(), params, strict=True):
        _close(ours, theirs)
    moved = [not np.allclose(p.data, a) for p, a in zip(critic.parameters(), start, strict=True)]
    # the penalty's second-order terms reach every weight; the last bias cancels out of the
    # loss (a shift of every score) and stays, in torch too
    assert moved == [True] * 5 + [False]


# ---------------------------------------------------------------------- double backward
def _vector_hessian_products(
    ours: Callable[[Tensor], Tensor], theirs: Callable[[object], object], x: np.ndarray
) -> None:
    """d/dx <w, d<v, f(x)>/dx> for random v and w, and the first derivative, as torch."""
    rng = np.random.default_rng(1)
    t = Tensor(x, requires_grad=True)
    out = ours(t)
    v, w = rng.standard_normal(out.shape), rng.standard_normal(x.shape)
    (first,) = tc.grad(out, t, grad_outputs=Tensor(v), create_graph=True)
    (second,) = tc.grad((first * Tensor(w)).sum(), t)

    tt = torch.tensor(x, requires_grad=True)
    tout = theirs(tt)
    (tfirst,) = torch.autograd.grad(tout, tt, grad_outputs=torch.tensor(v), create_graph=True)
    (tsecond,) = torch.autograd.grad((tfirst * torch.tensor(w)).sum(), tt)
    _close(first, tfirst)
    _close(second, tsecond)
    assert np.abs(second.data).max() > 1e-3  # a real second derivative, not a trivial zero


DOUBLE_BACKWARD = {
    # avg_pool2d is linear: the square after it makes its backward's backward matter
    "avg_pool2d": (
        lambda x: tc.avg_pool2d(x.tanh(), 2) ** 2,
        lambda x: F.avg_pool2d(x.tanh(), 2) ** 2,
        (2, 3, 4, 6),
    ),
    "log_softmax": (
        lambda x: tc.log_softmax(x, 1),
        lambda x: F.log_softmax(x, dim=1),
        (4, 5),
    ),
    "tanh": (lambda x: x.tanh(), lambda x: x.tanh(), (3, 4)),
}


@pytest.mark.parametrize("name", sorted(DOUBLE_BACKWARD))
def test_double_backward_matches_torch(name: str) -> None:
    ours, theirs, shape = DOUBLE_BACKWARD[name]
    x = np.random.default_rng(2).uniform(-2.0, 2.0, shape)
    _vector_hessian_products(ours, theirs, x)


def test_third_derivative_of_tanh_on_a_scalar() -> None:
    """tanh' = 1 - t**2, tanh'' = -2 t (1 - t**2), tanh''' = -2 (1 - t**2) (1 - 3 t**2)."""
    x = Tensor(np.array(0.7), requires_grad=True)
    (d1,) = tc.grad(x.tanh(), x, create_graph=True)
    (d2,) = tc.grad(d1, x, create_graph=True)
    (d3,) = tc.grad(d2, x)
    t = np.tanh(0.7)
    assert d1.shape == d2.shape == d3.shape == ()
    np.testing.assert_allclose(
        [d1.item(), d2.item(), d3.item()],
        [1 - t**2, -2 * t * (1 - t**2), -2 * (1 - t**2) * (1 - 3 * t**2)],
        rtol=1e-13,
    )
    tx = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    (t1,) = torch.autograd.grad(tx.tanh(), tx, create_graph=True)
    (t2,) = torch.autograd.grad(t1, tx, create_graph=True)
    (t3,) = torch.autograd.grad(t2, tx)
    np.testing.assert_allclose(d3.item(), t3.item(), rtol=1e-13)


def test_pow_at_exponent_zero_follows_torch_at_second_order() -> None:
    """d(a**b)/da is the constant 0 where b == 0 (PyTorch's where), so its derivative with
    respect to b is 0 there (the math says 1 / a): pinned, as the property test avoids it."""
    a, b = Tensor(np.array([2.0, 0.5]), requires_grad=True), Tensor(np.zeros(2), requires_grad=True)
    (grad_a,) = tc.grad((a**b).sum(), a, create_graph=True)
    (mixed,) = tc.grad(grad_a.sum(), b)
    ta = torch.tensor([2.0, 0.5], dtype=torch.float64, requires_grad=True)
    tb = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    (tgrad_a,) = torch.autograd.grad((ta**tb).sum(), ta, create_graph=True)
    (tmixed,) = torch.autograd.grad(tgrad_a.sum(), tb)
    _close(grad_a, tgrad_a)
    _close(mixed, tmixed)
    np.testing.assert_array_equal(mixed.data, [0.0, 0.0])


# ---------------------------------------------------------------------- a CNN's Hessian
def _cnn_loss(lib: str, x: object, labels: object, w1: object, b1: object, w2: object) -> object:
    """conv2d (3 filters) -> relu -> max_pool2d(2) -> flatten -> matmul -> cross_entropy."""
    if lib == "ours":
        hidden = tc.max_pool2d(tc.conv2d(x, w1, b1, padding=1).relu(), 2)
        return tc.cross_entropy(tc.matmul(hidden.reshape(2, -1), w2), labels)
    hidden = F.max_pool2d(F.conv2d(x, w1, b1, padding=1).relu(), 2)
    return F.cross_entropy(torch.matmul(hidden.reshape(2, -1), w2), labels)


def test_hessian_vector_product_of_a_small_cnn_matches_torch() -> None:
    """H v for the loss's Hessian H with respect to (conv weight, conv bias, dense weight)."""
    rng = np.random.default_rng(3)
    images, labels = rng.standard_normal((2, 1, 6, 6)), np.array([1, 3])
    weights = [
        rng.standard_normal((3, 1, 3, 3)) * 0.5,
        rng.standard_normal(3) * 0.1,
        rng.standard_normal((27, 4)) * 0.3,
    ]
    vectors = [rng.standard_normal(w.shape) for w in weights]

    params = [Tensor(w, requires_grad=True) for w in weights]
    loss = _cnn_loss("ours", Tensor(images), labels, *params)
    grads = tc.grad(loss, params, create_graph=True)
    dot = sum(((g * Tensor(v)).sum() for g, v in zip(grads, vectors, strict=True)), Tensor(0.0))
    hvp = tc.grad(dot, params)

    tparams = [torch.tensor(w, requires_grad=True) for w in weights]
    tloss = _cnn_loss("torch", torch.tensor(images), torch.tensor(labels), *tparams)
    tgrads = torch.autograd.grad(tloss, tparams, create_graph=True)
    tdot = sum((g * torch.tensor(v)).sum() for g, v in zip(tgrads, vectors, strict=True))
    thvp = torch.autograd.grad(tdot, tparams)

    _close(loss, tloss)
    for ours, theirs in zip([*grads, *hvp], [*tgrads, *thvp], strict=True):
        _close(ours, theirs)
