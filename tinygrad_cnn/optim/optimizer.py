"""Optimizers with PyTorch's update rules: :class:`SGD`, :class:`Adam`, :class:`AdamW` and
:class:`RMSprop`.

Each optimizer holds ``param_groups`` (lists of parameters with their own hyperparameters, as
in PyTorch, so a schedule can change ``group["lr"]`` between steps) and per-parameter ``state``
(momentum buffers, moment estimates). ``step()`` updates ``param.data`` in place: the array
keeps its identity and dtype (a float32 parameter stays float32), and parameters whose
``grad`` is None are skipped.

>>> from tinygrad_cnn import Tensor, nn, optim
>>> model = nn.Linear(3, 1, seed=0)
>>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> loss = (model(Tensor([[1.0, 2.0, 3.0]])) ** 2).sum()
>>> loss.backward(); opt.step(); opt.zero_grad()
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinygrad_cnn.blas_vectors import add_scaled
from tinygrad_cnn.optim.parallel import UpdatePool
from tinygrad_cnn.tensor import Tensor

ParamsArg = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad`` and state dicts.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        The tensors to optimise (e.g. ``model.parameters()``), or groups such as
        ``[{"params": [...], "lr": 0.1}, {"params": [...]}]`` whose missing hyperparameters
        take the defaults.
    defaults : dict
        The optimizer's hyperparameters.

    Attributes
    ----------
    param_groups : list of dict
        Each group's ``"params"`` and hyperparameters (edit ``"lr"`` to schedule it).
    state : defaultdict of dict
        Per-parameter buffers keyed by the parameter itself, as in PyTorch
        (``opt.state[p]["exp_avg"]``; a parameter not stepped yet has ``{}``). Tensors hash
        by identity, so a lookup never compares values, and a ``copy.deepcopy`` or pickle of
        the optimizer keeps each buffer with its (copied) parameter.
    """

    def __init__(self, params: ParamsArg, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self._pool = UpdatePool()
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Tensors or of dicts, "
                f"got a single Tensor; wrap it in a list"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters, with hyperparameters overriding the defaults."""
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' key")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for position, param in enumerate(params):
            if not isinstance(param, Tensor):
                raise TypeError(
                    f"{name}: can only optimise Tensors, got {type(param).__name__} "
                    f"at position {position}"
                )
            if not param.is_leaf:
                raise ValueError(f"{name}: can only optimise leaf tensors (position {position})")
            if not np.issubdtype(param.dtype, np.floating):
                raise TypeError(
                    f"{name}: can only optimise floating-point tensors, got {param.dtype} "
                    f"at position {position}"
                )
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(f"{name}: unknown hyperparameters {sorted(unknown)}")
        filled = {**self.defaults, **group, "params": params}
        self._validate(filled)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or existing & {id(p) for p in params}:
            raise ValueError(f"{name}: a parameter appears more than once")
        self.param_groups.append(filled)

    def _validate(self, group: dict[str, Any]) -> None:
        """Check one group's hyperparameters (each optimizer checks its own)."""
        _check_range(type(self).__name__, "lr", group["lr"], 0.0, None)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``grad = None`` (or, with ``set_to_none=False``, fill each
        ``grad`` tensor with zeros in place), as PyTorch."""
        for group in self.param_groups:
            for param in group["params"]:
                param.zero_grad(set_to_none)

    def step(self) -> None:
        """Update every parameter that has a gradient, in place (for models of 2M parameters
        and more, several parameters at once on a few threads: ``optim.parallel``)."""
        work = []
        for group in self.param_groups:
            for param in group["params"]:
                stored = param._grad  # (the private attribute: step is on the hot path)
                if stored is None:
                    continue
                grad = stored.data
                if grad.shape != param.shape:
                    raise ValueError(
                        f"{type(self).__name__}.step: gradient of shape {grad.shape} "
                        f"for a parameter of shape {param.shape}"
                    )
                work.append((param, grad, group, self.state[param]))
        self._pool.run(self._update, work, [item[0].data for item in work])

    def _update(
        self, param: Tensor, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not define _update")

    # ----------------------------------------------------------------- state dicts
    def _indexed_params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters and state, with parameters replaced by their position (copies).

        Returns
        -------
        dict
            ``{"state": {index: {name: array or number}}, "param_groups": [{..., "params":
            [index, ...]}]}`` as in PyTorch.
        """
        index = {id(p): i for i, p in enumerate(self._indexed_params())}
        state = {
            index[id(param)]: {
                k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()
            }
            for param, s in self.state.items()
            if id(param) in index
        }
        groups = [
            {
                **{k: v for k, v in g.items() if k != "params"},
                "params": [index[id(p)] for p in g["params"]],
            }
            for g in self.param_groups
        ]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyperparameters and state saved by :meth:`state_dict`, after validating.

        Raises
        ------
        ValueError
            When the groups, their sizes, or a state array's shape do not match this
            optimizer's parameters (nothing is modified then).
        """
        name = type(self).__name__
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(
                f"{name}.load_state_dict: expected a dict with keys 'state' and 'param_groups'"
            )
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: {len(groups)} parameter groups given, "
                f"the optimizer has {len(self.param_groups)}"
            )
        for i, (saved, own) in enumerate(zip(groups, self.param_groups, strict=True)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: group {i} has {len(saved['params'])} parameters, "
                    f"the optimizer's has {len(own['params'])}"
                )
            self._validate({**own, **saved})
        by_index = dict(
            zip(
                (i for g in groups for i in g["params"]),
                self._indexed_params(),
                strict=True,
            )
        )
        new_state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for index, saved in state_dict["state"].items():
            if index not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for unknown parameter {index}")
            param = by_index[index]
            entry = {}
            for key, value in saved.items():
                if isinstance(value, np.ndarray):
                    if value.shape != param.shape:
                        raise ValueError(
                            f"{name}.load_state_dict: state {key!r} of parameter {index} has "
                            f"shape {value.shape}, the parameter has {param.shape}"
                        )
                    value = value.astype(param.dtype, copy=True)
                entry[key] = value
            new_state[param] = entry
        for saved, own in zip(groups, self.param_groups, strict=True):
            own.update({k: v for k, v in saved.items() if k != "params"})
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in group.items() if k != "params")
        return "\n".join([*lines, ")"])


def _check_range(
    optimizer: str, name: str, value: Any, low: float, high: float | None, high_open: bool = False
) -> None:
    """Require a real number ``low <= value`` (``<= high``, or ``< high`` when open)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise TypeError(f"{optimizer}: {name} must be a number, got {value!r}")
    above = high is not None and (value >= high if high_open else value > high)
    if math.isnan(value) or value < low or above:
        bracket = ")" if high_open else "]"
        interval = f"[{low}, {high}{bracket}" if high is not None else f">= {low}"
        raise ValueError(f"{optimizer}: {name} must be in {interval}, got {value}")


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

    PyTorch's rule, per parameter ``p`` with gradient ``g``::

        g = g + weight_decay * p
        buf = g                                   (first step)
        buf = momentum * buf + (1 - dampening) * g  (later steps)
        g = g + momentum * buf  if nesterov  else  buf   (when momentum != 0)
        p = p - lr * g

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float
        Learning rate (>= 0).
    momentum, dampening, weight_decay : float, default 0
    nesterov : bool, default False
        Requires ``momentum > 0`` and ``dampening == 0``.
    """

    def __init__(
        self,
        params: ParamsArg,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        _check_range("SGD", "momentum", group["momentum"], 0.0, None)
        _check_range("SGD", "dampening", group["dampening"], -math.inf, None)
        _check_range("SGD", "weight_decay", group["weight_decay"], 0.0, None)
        if not isinstance(group["nesterov"], bool):
            raise TypeError(f"SGD: nesterov must be a bool, got {group['nesterov']!r}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov momentum requires momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _update(
        self, param: Tensor, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        lr, momentum = float(group["lr"]), float(group["momentum"])
        weight_decay = float(group["weight_decay"])
        if weight_decay:
            grad = grad + weight_decay * param.data
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, dtype=param.dtype, copy=True)
            else:  # buf = momentum * buf + (1 - dampening) * grad
                add_scaled(buf, 1.0 - float(group["dampening"]), grad, scale_y=momentum)
            grad = grad + momentum * buf if group["nesterov"] else buf
        add_scaled(param.data, -lr, grad)  # p -= lr * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's rule, with L2 ``weight_decay`` added to the gradient.

    Per parameter, at step ``t``::

        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_hat = max(v_hat, v) if amsgrad else v
        p = p - lr / (1 - beta1**t) * m / (sqrt(v_hat) / sqrt(1 - beta2**t) + eps)

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
        Each in [0, 1).
    eps : float, default 1e-8
    weight_decay : float, default 0
    amsgrad : bool, default False
        Use the maximum of past second moments.
    """

    decoupled_weight_decay = False

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
        }
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        name = type(self).__name__
        betas = group["betas"]
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise TypeError(f"{name}: betas must be a pair of floats, got {betas!r}")
        _check_range(name, "betas[0]", betas[0], 0.0, 1.0, high_open=True)
        _check_range(name, "betas[1]", betas[1], 0.0, 1.0, high_open=True)
        _check_range(name, "eps", group["eps"], 0.0, None)
        _check_range(name, "weight_decay", group["weight_decay"], 0.0, None)
        if not isinstance(group["amsgrad"], bool):
            raise TypeError(f"{name}: amsgrad must be a bool, got {group['amsgrad']!r}")

    def _update(
        self, param: Tensor, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        lr, eps, weight_decay = (
            float(group["lr"]),
            float(group["eps"]),
            float(group["weight_decay"]),
        )
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param.data)
            state["exp_avg_sq"] = np.zeros_like(param.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param.data)
        state["step"] += 1
        step = state["step"]
        if weight_decay and self.decoupled_weight_decay:
            param.data *= 1.0 - lr * weight_decay
        elif weight_decay:
            grad = grad + weight_decay * param.data
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        # In place, through one scratch array (a new array per operation cost 12 % of the
        # step, MLP of issue 15), and by BLAS's axpby where numpy's BLAS serves
        # (blas_vectors: one pass instead of three)
        add_scaled(exp_avg, 1.0 - beta1, grad, scale_y=beta1)  # b1 * m + (1 - b1) * g
        scratch = np.multiply(grad, grad)
        add_scaled(exp_avg_sq, 1.0 - beta2, scratch, scale_y=beta2)  # the same with g * g
        second = exp_avg_sq
        if group["amsgrad"]:
            second = np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
        # step_size * exp_avg / (sqrt(second) / c + eps) with c = sqrt(1 - beta2**step),
        # computed as (step_size * c) * exp_avg / (sqrt(second) + eps * c): one pass fewer
        # (the update alone 7 % faster on the MLP of issue 15: docs/performance.md)
        c = math.sqrt(1.0 - beta2**step)
        denom = np.sqrt(second, out=scratch)
        denom += eps * c
        update = np.divide(exp_avg, denom, out=scratch)
        add_scaled(param.data, -lr * c / (1.0 - beta1**step), update)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * weight_decay``
    before the Adam update, instead of adding ``weight_decay * p`` to the gradient.

    Same parameters as :class:`Adam`; ``weight_decay`` defaults to 1e-2.
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class RMSprop(Optimizer):
    """RMSprop (Hinton), PyTorch's rule, with optional momentum and centering.

    Per parameter ``p`` with gradient ``g``::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        m = alpha * m + (1 - alpha) * g;  avg = sqrt(v - m * m) + eps   if centered
        avg = sqrt(v) + eps                                              otherwise
        buf = momentum * buf + g / avg;  p = p - lr * buf                if momentum > 0
        p = p - lr * g / avg                                             otherwise

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float, default 1e-2
    alpha : float, default 0.99
        Smoothing constant of the squared-gradient average.
    eps : float, default 1e-8
    weight_decay, momentum : float, default 0
    centered : bool, default False
        Normalise by an estimate of the gradient's variance instead of its second moment.

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0),
    ``grad_avg`` (centered), as PyTorch.
    """

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
        }
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        _check_range("RMSprop", "alpha", group["alpha"], 0.0, None)
        _check_range("RMSprop", "eps", group["eps"], 0.0, None)
        _check_range("RMSprop", "weight_decay", group["weight_decay"], 0.0, None)
        _check_range("RMSprop", "momentum", group["momentum"], 0.0, None)
        if not isinstance(group["centered"], bool):
            raise TypeError(f"RMSprop: centered must be a bool, got {group['centered']!r}")

    def _update(
        self, param: Tensor, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param.data)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(param.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(param.data)
        state["step"] += 1
        if weight_decay:
            grad = grad + weight_decay * param.data
        square_avg = state["square_avg"]
        add_scaled(square_avg, 1.0 - alpha, grad * grad, scale_y=alpha)  # a * avg + (1 - a) g^2
        if group["centered"]:
            grad_avg = state["grad_avg"]
            add_scaled(grad_avg, 1.0 - alpha, grad, scale_y=alpha)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += eps
        if momentum > 0:
            buf = state.setdefault("momentum_buffer", np.zeros_like(param.data))
            add_scaled(buf, 1.0, np.divide(grad, avg, out=avg), scale_y=momentum)
            add_scaled(param.data, -lr, buf)
        else:
            add_scaled(param.data, -lr, np.divide(grad, avg, out=avg))


__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop"]
