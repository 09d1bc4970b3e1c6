"""``grad``: gradients of outputs with respect to chosen inputs, as ``torch.autograd.grad``.

Unlike ``Tensor.backward`` it returns the gradients instead of adding them into ``.grad``,
and with ``create_graph=True`` the returned gradients carry a graph, so they can be
differentiated again (Hessian-vector products, gradient penalties: docs/higher-order.md).
"""

from __future__ import annotations

from typing import Any

from tinygrad_cnn.function import gradient_walk
from tinygrad_cnn.tensor import Tensor, tensor_sequence, upstream_gradient

__all__ = ["grad"]


def grad(
    outputs: Tensor | Any,
    inputs: Tensor | Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, as ``torch.autograd.grad``.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensor
        What is differentiated; their gradients (weighted by ``grad_outputs``) are summed.
    inputs : Tensor or sequence of Tensor
        The tensors to differentiate with respect to (leaves or intermediate tensors), each
        requiring grad.
    grad_outputs : Tensor, ndarray, or a list or tuple of them (or of None), optional
        The upstream gradient of each output (its shape); None stands for ones and is
        allowed only for a one-element output.
    retain_graph : bool, optional
        Keep what the ops saved for backward, so the graph can be differentiated again.
        Defaults to ``create_graph``.
    create_graph : bool, default False
        Record the backward pass: the returned gradients carry a graph (``requires_grad``
        when they depend on something that requires grad) and can be differentiated.
    allow_unused : bool, default False
        Return None for an input that ``outputs`` do not depend on, instead of raising.

    Returns
    -------
    tuple of Tensor or None
        One gradient per input, its shape and dtype. ``.grad`` of no tensor is touched.

    Raises
    ------
    RuntimeError
        When an output or an input does not require grad, when an output needs an explicit
        ``grad_outputs``, or an input is unused and ``allow_unused`` is False.

    Examples
    --------
    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> (g,) = grad((x**3).sum(), x, create_graph=True)   # 3 x**2
    >>> (h,) = grad(g.sum(), x)                            # 6 x
    """
    outs = tensor_sequence("grad", "outputs", outputs)
    ins = tensor_sequence("grad", "inputs", inputs)
    if not outs or not ins:
        raise RuntimeError("grad: outputs and inputs must each hold at least one Tensor")
    if grad_outputs is None:
        upstreams: list[Any] = [None] * len(outs)
    elif isinstance(grad_outputs, list | tuple):
        upstreams = list(grad_outputs)
    else:  # one Tensor or array, for one output
        upstreams = [grad_outputs]
    if len(upstreams) != len(outs):
        raise ValueError(
            f"grad: got {len(upstreams)} grad_outputs for {len(outs)} outputs; pass one per output"
        )
    for position, output in enumerate(outs):
        if not output.requires_grad:
            raise RuntimeError(
                f"grad: outputs[{position}] does not require grad and has no graph; make "
                f"its inputs with requires_grad=True (and outside no_grad())"
            )
    for position, tensor in enumerate(ins):
        if not tensor.requires_grad:
            raise RuntimeError(
                f"grad: inputs[{position}] does not require grad; differentiate with "
                f"respect to tensors made with requires_grad=True"
            )
    grads = [
        upstream_gradient(f"grad (outputs[{i}])", output, upstream, bool(create_graph))
        for i, (output, upstream) in enumerate(zip(outs, upstreams, strict=True))
    ]
    collected = gradient_walk(
        outs,
        grads,
        retain_graph=bool(create_graph) if retain_graph is None else bool(retain_graph),
        create_graph=bool(create_graph),
        inputs=ins,
        collect=True,
    )
    results: list[Tensor | None] = []
    for position, tensor in enumerate(ins):
        found = collected.get(id(tensor))
        if found is None and not allow_unused:
            raise RuntimeError(
                f"grad: inputs[{position}] (shape {tensor.shape}) was not used to compute the "
                f"outputs; pass allow_unused=True to get None for it"
            )
        results.append(found)
    return tuple(results)
