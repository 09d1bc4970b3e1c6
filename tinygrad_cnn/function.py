"""The autograd engine: the :class:`Function` base class, its registry, and the backward walk.

Every differentiable operation is a subclass of :class:`Function` with a ``forward`` (numpy in,
numpy out) and a ``backward`` (upstream gradient in, one gradient per input out) side by side.
``Function.apply`` runs ``forward`` and, when recording, makes the op object itself the graph
node that links the output tensor to its inputs. :func:`backward_pass` walks those nodes in
reverse topological order without recursion, sums fan-out gradients, undoes broadcasting in
one place (:func:`unbroadcast`), and frees what the ops saved for backward.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tinygrad_cnn.grad_mode import is_grad_enabled

if TYPE_CHECKING:
    from tinygrad_cnn.tensor import Tensor

# Anomaly mode (tinygrad_cnn.debug.detect_anomaly) installs an object here with
# ``after_forward(node, output)`` and ``after_backward(node, upstream, input_grads)``. It is None
# otherwise, so the engine pays one context-variable lookup per op and per backward pass.
anomaly_hooks: contextvars.ContextVar[Any] = contextvars.ContextVar("anomaly_hooks", default=None)

# Attributes of a node that describe the graph: slots, kept after backward so it can still be
# drawn. Everything else an op stores on ``self`` lands in the instance ``__dict__``: the arrays
# saved for backward, dropped all at once by ``release()``.
_STRUCTURE = (
    "inputs",
    "attrs",
    "needs_input_grad",
    "released",
    "summed_axes",
    "scope",
    "scope_call",
)


class Function:
    """Base class of every recorded operation; the instance is the graph node.

    Subclasses implement ``forward(*arrays, **attrs) -> ndarray`` and
    ``backward(grad) -> tuple`` (one gradient or ``None`` per input, each the shape of the
    *output's* broadcast of that input or of the input itself: the engine sums broadcast axes
    back). Defining a subclass registers it under ``name`` (default: the lower-cased class
    name); pass ``register=False`` for throwaway ops, e.g. in tests.

    Attributes
    ----------
    inputs : tuple of Tensor
        The tensors the op was applied to, in order.
    attrs : dict
        Keyword attributes of the op (``stride``, ``axis`` ...), shown by the graph renderer.
    needs_input_grad : tuple of bool
        Whether each input needs a gradient; ``backward`` may skip work for the others.
    summed_axes : tuple
        After backward: for each input, the axes its gradient was summed over to undo
        broadcasting (empty when none), for the renderer's backward view.
    scope : object or None
        The module whose forward recorded this op (set by
        :func:`tinygrad_cnn.nn.scopes.record_module_scope`), for the renderer's module view.
    scope_call : object or None
        A token shared by the ops of one call of ``scope`` (a
        :class:`~tinygrad_cnn.nn.scopes.ModuleCall`), so two calls of a module are told apart.
    """

    __slots__ = _STRUCTURE
    registry: ClassVar[dict[str, type[Function]]] = {}
    name: ClassVar[str]
    # True on an op whose backward returns, for each input, a new array (or a view of one)
    # that it returns once and keeps no reference to: the engine may then let the next op's
    # backward write over it.
    new_gradients: ClassVar[bool] = False
    # Set by the engine just before ``backward`` runs: True when nothing else holds the
    # upstream gradient, so ``backward`` may write its result over it (ReLU does).
    upstream_writable = False

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__.lower()
        if register:
            if cls.name in Function.registry:
                raise TypeError(f"an op named {cls.name!r} is already registered")
            Function.registry[cls.name] = cls

    def __init__(self, inputs: tuple[Tensor, ...], attrs: dict[str, Any]) -> None:
        self.inputs = inputs
        self.attrs = attrs
        self.needs_input_grad = tuple(t.requires_grad for t in inputs)
        self.released = False
        self.summed_axes: tuple[tuple[int, ...], ...] = ()
        self.scope: Any = None
        self.scope_call: Any = None

    def forward(self, *arrays: np.ndarray, **attrs: Any) -> np.ndarray:
        """Compute the output from the inputs' arrays; save on ``self`` what backward needs."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray | None, ...]:
        """Return the gradient of each input given the gradient of the output."""
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    @classmethod
    def apply(cls, *inputs: Tensor, **attrs: Any) -> Tensor:
        """Run the op on tensors and, when any input requires grad, record it in the graph.

        Parameters
        ----------
        *inputs : Tensor
            The op's tensor inputs.
        **attrs
            The op's attributes, passed to ``forward`` as keyword arguments.

        Returns
        -------
        Tensor
            The output; its ``_ctx`` is this op's node when recorded, else ``None``.
        """
        for position, value in enumerate(inputs):
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"{cls.name}: input {position} must be a Tensor, got {type(value).__name__}"
                )
        node = cls(inputs, attrs)
        data = node.forward(*(t.data for t in inputs), **attrs)
        hooks = anomaly_hooks.get()
        if hooks is not None:  # anomaly mode: check the output, record the caller
            hooks.after_forward(node, data)
        if is_grad_enabled() and any(node.needs_input_grad):
            for tensor in inputs:  # an in-place op must not overwrite what this node may read
                tensor._consumed = True
            return Tensor._from_op(data, node)
        return Tensor._from_op(data, None)

    def release(self) -> None:
        """Free the arrays saved for backward, keeping the graph structure (for drawing)."""
        self.__dict__.clear()
        self.released = True

    def __repr__(self) -> str:
        attrs = " ".join(f"{k}={v}" for k, v in self.attrs.items())
        return f"<{self.name}{' ' + attrs if attrs else ''}>"


def apply_in_place(op: type[Function], x: Tensor, *others: Tensor, **attrs: Any) -> Tensor:
    """Run ``op`` on ``x`` (and ``others``) with the result written over ``x``'s memory.

    PyTorch's in-place semantics (``relu_``, ``add_`` ...): ``x`` now holds the result and, when
    the op is recorded, stands for the op's output in the graph, so every later use of ``x``
    differentiates through the op. The op's ``forward`` gets ``inplace=True`` and must return
    its first input array, overwritten. An operand that is ``x`` itself (``y.mul_(y)``) stands
    for ``x``'s old self.

    Returns
    -------
    Tensor
        ``x``.

    Raises
    ------
    RuntimeError
        Where overwriting ``x`` could make a gradient wrong (see :func:`check_overwritable`).
    """
    name = op.name if op.name.endswith("_") else f"{op.name}_"
    check_overwritable(name, x)
    before = Tensor._from_op(x.data, x._ctx)  # x as it was: the op's input in the graph
    inputs = (before, *(before if other is x else other for other in others))
    result = op.apply(*inputs, inplace=True, **attrs)
    if result.data is not x.data:
        raise TypeError(f"{op.name}.forward(inplace=True) must return its input array")
    if result._ctx is not None:  # recorded: x moves behind the op
        x._ctx, x.requires_grad = result._ctx, True
    return x


def check_overwritable(op_name: str, x: Tensor) -> None:
    """Raise ``RuntimeError`` unless ``op_name`` may overwrite ``x``'s memory in place.

    Refused, as a gradient could silently come out wrong (PyTorch refuses the first and
    catches the rest when backward runs): a leaf that requires grad; a tensor that is already
    an input of a recorded op (its backward may read the old values); a tensor whose values
    the op that made it saved for backward (``exp``, ``tanh`` ...); a view of another
    tensor's memory (``reshape``, indexing ...); read-only memory.

    Under ``no_grad()`` only two of these apply: values saved by the op that made ``x`` (until
    backward frees them) and read-only memory. The leaf, input and view rules are lifted
    there, as in PyTorch: that is how parameters are updated (``with no_grad(): w -= lr *
    w.grad``) after ``backward()`` has used them.
    """
    made_by = x._ctx
    recording = is_grad_enabled()
    hint = "use the out-of-place op instead"
    if recording and x.requires_grad and made_by is None:
        problem = (
            "it is a leaf tensor that requires grad (PyTorch: a leaf Variable that requires "
            "grad is being used in an in-place operation.)"
        )
        hint = "update it under `with no_grad():`, as an optimizer step does"
    elif recording and x._consumed:
        problem = "it is already an input of a recorded op, whose backward may read its values"
    elif made_by is not None and any(_shares(saved, x.data) for saved in vars(made_by).values()):
        problem = f"{made_by.name}, the op that made it, saved its values for backward"
    elif (
        recording
        and made_by is not None
        and not made_by.attrs.get("inplace")  # an in-place op's input is x's own old self
        and any(np.may_share_memory(t.data, x.data) for t in made_by.inputs)
    ):
        problem = f"it is a view of the memory of an input of {made_by.name}"
    elif not x.data.flags.writeable:
        problem = "its memory is read-only"
    else:
        return
    raise RuntimeError(
        f"{op_name}: cannot overwrite a tensor of shape {x.shape} in place: {problem}; {hint}"
    )


def _shares(saved: Any, array: np.ndarray) -> bool:
    """Whether ``saved`` (an attribute an op saved for backward) may overlap ``array``."""
    items = saved if isinstance(saved, tuple | list) else (saved,)
    return any(isinstance(a, np.ndarray) and np.may_share_memory(a, array) for a in items)


def broadcast_axes(shape: tuple[int, ...], target: tuple[int, ...]) -> tuple[int, ...] | None:
    """The axes of ``target`` that broadcasting ``shape`` to it added or stretched.

    Parameters
    ----------
    shape : tuple of int
        The shape that was broadcast, e.g. ``(3,)`` or ``(4, 1)``.
    target : tuple of int
        The shape it was broadcast to, e.g. ``(2, 4, 3)``.

    Returns
    -------
    tuple of int or None
        Leading axes added, then axes where ``shape`` has 1 and ``target`` more, in
        increasing order (``(0, 2)`` for ``(4, 1)`` to ``(2, 4, 3)``); ``()`` when nothing was
        broadcast; None when ``shape`` does not broadcast to ``target``.
    """
    extra = len(target) - len(shape)
    if extra < 0:
        return None
    stretched = []
    for i, n in enumerate(shape):
        if n != target[extra + i]:
            if n != 1:
                return None
            stretched.append(extra + i)
    return (*range(extra), *stretched)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, tuple[int, ...]]:
    """Sum ``grad`` over the axes that broadcasting added or stretched, to give ``shape``.

    Parameters
    ----------
    grad : ndarray
        Gradient with the broadcast shape.
    shape : tuple of int
        The shape of the input that was broadcast.

    Returns
    -------
    grad : ndarray
        The gradient reduced to ``shape``.
    axes : tuple of int
        The axes of ``grad`` that were summed (empty when nothing was broadcast).

    Raises
    ------
    ValueError
        When ``grad`` cannot be a broadcast of ``shape``.
    """
    if grad.shape == shape:
        return grad, ()
    axes = broadcast_axes(shape, grad.shape)
    if axes is None:
        raise ValueError(f"gradient of shape {grad.shape} cannot be reduced to shape {shape}")
    reduced = grad.sum(axis=axes, keepdims=True) if axes else grad
    return reduced.reshape(shape), axes


def topological_order(*roots: Tensor) -> list[Tensor]:
    """Tensors of the graph behind ``roots``, every input before the tensors made from it.

    An iterative depth-first search (no recursion, so a 100,000-op chain is fine). A tensor is
    marked visited when it is expanded, not when it is pushed, so in a diamond (``c = g(b)``,
    ``a = f(b, c)``) ``b`` still comes before ``c``. The order depends only on the graph and the
    order of ``roots`` and of each op's inputs.
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    for root in roots:
        stack: list[tuple[Tensor, bool]] = [(root, False)]
        while stack:
            tensor, inputs_done = stack.pop()
            if inputs_done:
                order.append(tensor)
                continue
            if id(tensor) in visited:
                continue
            visited.add(id(tensor))
            stack.append((tensor, True))
            if tensor._ctx is not None:
                for parent in reversed(tensor._ctx.inputs):
                    if id(parent) not in visited:
                        stack.append((parent, False))
    return order


def _accumulate(tensor: Tensor, grad: np.ndarray) -> None:
    """Add ``grad`` into ``tensor.grad``: the first time a graph-less Tensor wrapping a private
    copy, afterwards in place into that Tensor's ``data`` (the same object, as in PyTorch)."""
    stored = tensor._grad
    if stored is None:
        tensor._grad = Tensor._from_op(np.array(grad, dtype=tensor.data.dtype, copy=True), None)
    else:
        stored.data += grad


def backward_pass(
    root: Tensor, grad: np.ndarray, retain_graph: bool = False, retain_grads: bool = False
) -> None:
    """Propagate ``grad`` (d root / d root) to every tensor behind ``root`` that requires grad.

    Leaves (tensors with no op) accumulate into ``.grad``; so do intermediate tensors when
    ``retain_grads`` is set or their ``retain_grad()`` was called. Each op's gradient is
    released as soon as all of its consumers have contributed to it.
    """
    order = topological_order(root)
    for tensor in order:
        if tensor._ctx is not None and tensor._ctx.released:
            raise RuntimeError(
                "backward through a graph whose saved arrays were already freed: pass "
                "retain_graph=True to the first backward() to run backward twice"
            )
    pending: dict[int, np.ndarray] = {id(root): grad}
    writable: set[int] = set()  # tensors whose pending gradient nothing else holds
    hooks = anomaly_hooks.get()
    for tensor in reversed(order):
        upstream = pending.pop(id(tensor), None)
        if upstream is None:
            continue
        node = tensor._ctx
        if node is None or retain_grads or tensor._retains_grad:
            _accumulate(tensor, upstream)  # a copy
        if node is None:
            continue
        # (Anomaly mode reports the upstream gradient after backward: keep it intact.)
        node.upstream_writable = id(tensor) in writable and hooks is None
        input_grads = node.backward(upstream)
        if not isinstance(input_grads, tuple) or len(input_grads) != len(node.inputs):
            raise TypeError(
                f"{node.name}.backward must return a tuple of {len(node.inputs)} gradients, "
                f"got {type(input_grads).__name__}"
            )
        if hooks is not None:  # anomaly mode: blame this op if a gradient it returns is not finite
            hooks.after_backward(node, upstream, input_grads)
        summed: list[tuple[int, ...]] = []
        for parent, needed, g in zip(node.inputs, node.needs_input_grad, input_grads, strict=True):
            if not needed or g is None:
                summed.append(())
                continue
            if type(g) is not np.ndarray:
                g = np.asarray(g)
            axes: tuple[int, ...] = ()
            if g.shape != parent.data.shape:
                g, axes = unbroadcast(g, parent.data.shape)
            summed.append(axes)
            if g.dtype != parent.data.dtype:
                raise TypeError(
                    f"{node.name}.backward returned a {g.dtype} gradient for a "
                    f"{parent.data.dtype} input of shape {parent.shape}"
                )
            previous = pending.get(id(parent))
            if previous is None:
                pending[id(parent)] = g
            else:  # (the sum of two 0-d arrays is a numpy scalar: keep an array)
                total = previous + g
                pending[id(parent)] = total if type(total) is np.ndarray else np.asarray(total)
            if previous is not None or axes or node.new_gradients:  # a new array
                writable.add(id(parent))
        node.summed_axes = tuple(summed)
        if not retain_graph:
            node.release()


from tinygrad_cnn.tensor import Tensor  # noqa: E402  (Tensor's methods apply Functions: a cycle)
