"""The autograd engine: the :class:`Function` base class, its registry, and the backward walk.

Every differentiable operation is a subclass of :class:`Function` with a ``forward`` (numpy in,
numpy out) and a ``backward`` (upstream gradient in, one gradient per input out) side by side.
``backward`` is written with Tensor ops (registered ops), so a gradient can itself be
differentiated (``create_graph=True``, docs/higher-order.md). ``Function.apply`` runs
``forward`` and, when recording, makes the op object itself the graph node that links the
output tensor to its inputs. :func:`backward_pass` walks those nodes in reverse topological
order without recursion, sums fan-out gradients, undoes broadcasting in one place
(:func:`unbroadcast`), and frees what the ops saved for backward.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tinygrad_cnn.grad_mode import _grad_enabled, is_grad_enabled, no_grad

if TYPE_CHECKING:
    from tinygrad_cnn.tensor import Tensor

_new_object = object.__new__  # Function.apply makes its node without calling __init__

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

    Subclasses implement ``forward(*arrays, **attrs) -> ndarray`` (numpy in, numpy out) and
    ``backward(grad: Tensor) -> tuple`` (one ``Tensor`` or ``None`` per input, each the shape
    of the *output's* broadcast of that input or of the input itself: the engine sums
    broadcast axes back). ``backward`` is made of Tensor ops on ``grad``, the op's
    ``inputs`` and its ``output``, so that with ``create_graph=True`` the gradient is recorded
    too and can be differentiated again; with ``create_graph=False`` it runs under
    ``no_grad()`` and the same numpy kernels run, nothing recorded. A fast kernel a backward
    needs is an op of its own (with its own backward). Defining a subclass registers it under
    ``name`` (default: the lower-cased class name); pass ``register=False`` for throwaway
    ops, e.g. in tests. The contract in full: docs/higher-order.md.

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
    output : Tensor or None
        While ``backward`` runs, on an op whose class sets ``uses_output``: the tensor this
        op made (the engine sets it for the call and clears it after, so no reference cycle
        outlives the call). An op whose
        derivative uses its own output (``exp``, ``tanh`` ...) reads it here, as a Tensor, so
        that the output's own dependence on the inputs is differentiated at higher orders.
    """

    __slots__ = (*_STRUCTURE, "output")
    registry: ClassVar[dict[str, type[Function]]] = {}
    name: ClassVar[str]
    # True on an op whose backward reads ``self.output``: in-place ops then refuse to
    # overwrite that output until backward has run (check_overwritable).
    uses_output: ClassVar[bool] = False
    # True on an op whose backward returns, for each input, a new array (or a view of one)
    # that it returns once and keeps no reference to: the engine may then let the next op's
    # backward write over it.
    new_gradients: ClassVar[bool] = False
    # True on an op with one input whose backward returns a view (or a reshaped copy) of its
    # upstream gradient, once: that gradient is then as unshared as the upstream was.
    views_upstream: ClassVar[bool] = False
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
        self.needs_input_grad = tuple([t.requires_grad for t in inputs])
        self.released = False
        self.summed_axes: tuple[tuple[int, ...], ...] = ()
        self.scope: Any = None
        self.scope_call: Any = None
        self.output: Tensor | None = None

    def forward(self, *arrays: np.ndarray, **attrs: Any) -> np.ndarray:
        """Compute the output from the inputs' arrays; save on ``self`` what backward needs."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, grad: Tensor) -> tuple[Tensor | None, ...]:
        """Return the gradient of each input given the gradient of the output, as Tensor ops."""
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
        arrays = []
        needs = []
        for value in inputs:
            if type(value) is not Tensor and not isinstance(value, Tensor):
                _refuse_input(cls, inputs)
            arrays.append(value.data)
            needs.append(value.requires_grad)
        # (``__init__`` inlined: this runs for every op, and for every op of a backward)
        node = _new_object(cls)
        node.inputs = inputs
        node.attrs = attrs
        node.needs_input_grad = needs = tuple(needs)
        node.released = False
        node.summed_axes = ()
        node.scope = node.scope_call = node.output = None
        data = node.forward(*arrays, **attrs) if attrs else node.forward(*arrays)
        hooks = anomaly_hooks.get()
        if hooks is not None:  # anomaly mode: check the output, record the caller
            hooks.after_forward(node, data)
        if True in needs and _grad_enabled.get():  # (= node.is_recorded, inlined: hot path)
            for tensor in inputs:  # an in-place op must not overwrite what this node may read
                tensor._consumed = True
            return Tensor._from_op(data, node)
        return Tensor._from_op(data, None)

    @property
    def is_recorded(self) -> bool:
        """Whether ``apply`` records this node: an input requires grad and grad mode is on.

        Known before ``forward`` runs, so a forward can skip saving what only its backward
        would read (a ReLU's mask, a max pool's window positions) under ``no_grad()``, as
        PyTorch's inference kernels do.
        """
        return True in self.needs_input_grad and _grad_enabled.get()

    def release(self) -> None:
        """Free the arrays saved for backward, keeping the graph structure (for drawing)."""
        self.__dict__.clear()
        self.released = True

    def __repr__(self) -> str:
        attrs = " ".join(f"{k}={v}" for k, v in self.attrs.items())
        return f"<{self.name}{' ' + attrs if attrs else ''}>"


def _refuse_input(op: type[Function], inputs: tuple[Any, ...]) -> None:
    """Raise the TypeError naming the first of ``inputs`` that is not a Tensor."""
    for position, value in enumerate(inputs):
        if not isinstance(value, Tensor):
            raise TypeError(
                f"{op.name}: input {position} must be a Tensor, got {type(value).__name__}"
            )


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
    elif made_by is not None and (
        (made_by.uses_output and not made_by.released)
        or any(_shares(saved, x.data) for saved in vars(made_by).values())
    ):
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


def _accumulate(tensor: Tensor, grad: np.ndarray, owned: bool = False) -> None:
    """Add ``grad`` into ``tensor.grad``: the first time a graph-less Tensor wrapping a private
    copy (``grad`` itself when ``owned``: an array nothing else holds), afterwards in place
    into that Tensor's ``data`` (the same object, as in PyTorch)."""
    stored = tensor._grad
    if stored is None:
        private = grad if owned else np.array(grad, dtype=tensor.data.dtype, copy=True)
        tensor._grad = Tensor._from_op(private, None)
    else:
        stored.data += grad


def _accumulate_recorded(tensor: Tensor, grad: Tensor) -> None:
    """``create_graph=True``: store ``grad`` into ``tensor.grad`` keeping its graph.

    The first gradient is stored as a recorded copy (``clone``: the same Tensor may reach
    several leaves, and ``zero_grad(set_to_none=False)`` writes in place); later ones are
    added out of place, a recorded ``add``, as PyTorch does.
    """
    stored = tensor._grad
    if stored is None:
        if grad.requires_grad:
            tensor._grad = grad.clone()
        else:
            tensor._grad = Tensor._from_op(np.array(grad.data, copy=True), None)
    else:
        tensor._grad = stored + grad


def call_backward(node: Function, output: Tensor, upstream: np.ndarray) -> Any:
    """Run ``node``'s backward on an array, recording nothing; gradients come back as arrays.

    For tools that check an op alone (``check_graph``). ``output`` is the tensor the op made.
    The result is returned as the op gave it when it is not a tuple, so the caller can
    report the broken contract.

    Raises
    ------
    TypeError
        When a converted op's backward returns something other than Tensors and None.
    """
    with no_grad():
        return _backward_arrays(node, output, upstream)


def _backward_arrays(node: Function, output: Tensor, upstream: np.ndarray) -> Any:
    """``node.backward`` with recording off (the caller switches it off): arrays in and out."""
    if node.uses_output:
        node.output = output
    try:
        raw = node.backward(Tensor._from_op(upstream, None))
    finally:
        node.output = None
    if type(raw) is not tuple:
        return raw
    return tuple([_array_of(node, g) for g in raw])


def _relevant(order: list[Tensor], targets: set[int]) -> set[int]:
    """Ids of the tensors of ``order`` that are targets or have a target behind them."""
    relevant: set[int] = set()
    for tensor in order:  # inputs before the tensors made from them
        node = tensor._ctx
        if id(tensor) in targets or (
            node is not None and any(id(p) in relevant for p in node.inputs)
        ):
            relevant.add(id(tensor))
    return relevant


def backward_pass(
    root: Tensor,
    grad: np.ndarray | Tensor,
    retain_graph: bool = False,
    retain_grads: bool = False,
    create_graph: bool = False,
    inputs: Sequence[Tensor] | None = None,
) -> None:
    """Propagate ``grad`` (d root / d root) to every tensor behind ``root`` that requires grad.

    Leaves (tensors with no op) accumulate into ``.grad``; so do intermediate tensors when
    ``retain_grads`` is set or their ``retain_grad()`` was called. With ``inputs``, only
    those tensors accumulate (leaves or not), and only the ops between them and ``root`` run.
    Each op's gradient is released as soon as all of its consumers have contributed to it.

    Parameters
    ----------
    root : Tensor
    grad : ndarray or Tensor
        The upstream gradient, ``root``'s shape and dtype (a Tensor keeps its graph when
        ``create_graph``).
    retain_graph : bool
        Keep what the ops saved, so backward can run through them again.
    retain_grads : bool
        Also store ``.grad`` on every intermediate tensor.
    create_graph : bool
        Record the backward ops, so the gradients carry a graph and can be differentiated.
    inputs : sequence of Tensor, optional
        The tensors whose ``.grad`` receives the gradient (default: the leaves).
    """
    gradient_walk(
        (root,), (grad,), retain_graph, create_graph, inputs, collect=False,
        retain_grads=retain_grads,
    )  # fmt: skip


def gradient_walk(
    roots: Sequence[Tensor],
    grads: Sequence[np.ndarray | Tensor],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None,
    collect: bool,
    retain_grads: bool = False,
) -> dict[int, Tensor]:
    """The backward walk behind :func:`backward_pass` and :func:`tinygrad_cnn.autograd.grad`.

    With ``collect`` the gradients of ``inputs`` are returned (by ``id``) and no ``.grad`` is
    touched; otherwise they accumulate into ``.grad``. ``create_graph=False`` runs every
    backward with recording off on arrays (the fast path: fan-out sums and undoing
    broadcasting in numpy, gradients written over upstream arrays nothing else holds);
    ``create_graph=True`` records every backward op, the sums and the reductions.
    """
    order = topological_order(*roots)
    targets = None if inputs is None else {id(t) for t in inputs}
    relevant = None if targets is None else _relevant(order, targets)
    for tensor in order:
        node = tensor._ctx
        if node is not None and node.released and (relevant is None or id(tensor) in relevant):
            raise RuntimeError(
                "backward through a graph whose saved arrays were already freed: pass "
                "retain_graph=True to the first backward() to run backward twice"
            )
    walk = _walk_recording if create_graph else _walk_arrays
    hooks = anomaly_hooks.get()
    token = _grad_enabled.set(create_graph)
    # Anomaly mode checks each op's backward as a whole (after_backward), not the ops its
    # backward is made of: the hooks are off for them.
    hooks_token = anomaly_hooks.set(None) if hooks is not None else None
    try:
        return walk(
            roots, grads, order, targets, relevant, retain_graph, collect, retain_grads, hooks
        )
    finally:
        _grad_enabled.reset(token)
        if hooks_token is not None:
            anomaly_hooks.reset(hooks_token)


def _walk_arrays(
    roots: Sequence[Tensor],
    grads: Sequence[Any],
    order: list[Tensor],
    targets: set[int] | None,
    relevant: set[int] | None,
    retain_graph: bool,
    collect: bool,
    retain_grads: bool,
    hooks: Any,
) -> dict[int, Tensor]:
    """The first-order walk on arrays, recording off (see :func:`gradient_walk`)."""
    pending: dict[int, np.ndarray] = {}
    for root, g in zip(roots, grads, strict=True):
        g = g.data if isinstance(g, Tensor) else g
        previous = pending.get(id(root))
        pending[id(root)] = g if previous is None else np.asarray(previous + g)
    writable: set[int] = set()  # tensors whose pending gradient nothing else holds
    collected: dict[int, Tensor] = {}
    for tensor in reversed(order):
        upstream = pending.pop(id(tensor), None)
        if upstream is None:
            continue
        node = tensor._ctx
        captured = False
        # A leaf's gradient that nothing else holds is stored as it is, not copied (the MLP's
        # step 4-6 % faster, docs/performance.md); a non-leaf's is copied: its op's backward
        # may write over it.
        owned = node is None and id(tensor) in writable
        if targets is None:
            if node is None or retain_grads or tensor._retains_grad:
                _accumulate(tensor, upstream, owned)
        elif id(tensor) in targets:
            captured = True
            if collect:
                collected[id(tensor)] = Tensor._from_op(np.array(upstream, copy=True), None)
            else:
                _accumulate(tensor, upstream, owned)
        if node is None:
            continue
        # (Anomaly mode reports the upstream gradient after backward: keep it intact.)
        node.upstream_writable = id(tensor) in writable and hooks is None and not captured
        passed_on = node.views_upstream and node.upstream_writable  # (the same conditions)
        if node.uses_output:
            node.output = tensor
            try:
                input_grads = node.backward(Tensor._from_op(upstream, None))
            finally:
                node.output = None
        else:
            input_grads = node.backward(Tensor._from_op(upstream, None))
        if type(input_grads) is not tuple or len(input_grads) != len(node.inputs):
            raise TypeError(_count_message(node, input_grads))
        if hooks is not None:  # anomaly mode: blame this op if a gradient it returns is not finite
            hooks.after_backward(node, upstream, tuple([_array_of(node, g) for g in input_grads]))
        summed: list[tuple[int, ...]] = []
        for parent, needed, g in zip(node.inputs, node.needs_input_grad, input_grads, strict=True):
            g = g.data if type(g) is Tensor else _array_of(node, g)  # (raises unless a Tensor)
            if not needed or g is None or (relevant is not None and id(parent) not in relevant):
                summed.append(())
                continue
            if type(g) is not np.ndarray:
                g = np.asarray(g)
            axes: tuple[int, ...] = ()
            if g.shape != parent.data.shape:
                g, axes = unbroadcast(g, parent.data.shape)
            summed.append(axes)
            if g.dtype != parent.data.dtype:
                raise TypeError(_dtype_message(node, g.dtype, parent))
            previous = pending.get(id(parent))
            if previous is None:
                pending[id(parent)] = g
            else:  # (the sum of two 0-d arrays is a numpy scalar: keep an array)
                total = previous + g
                pending[id(parent)] = total if type(total) is np.ndarray else np.asarray(total)
            if previous is not None or axes or node.new_gradients or passed_on:  # unshared
                writable.add(id(parent))
        node.summed_axes = tuple(summed)
        if not retain_graph:
            node.release()
    return collected


def _walk_recording(
    roots: Sequence[Tensor],
    grads: Sequence[Any],
    order: list[Tensor],
    targets: set[int] | None,
    relevant: set[int] | None,
    retain_graph: bool,
    collect: bool,
    retain_grads: bool,
    hooks: Any,
) -> dict[int, Tensor]:
    """The walk that records every backward op (``create_graph=True``, see
    :func:`gradient_walk`): gradients are Tensors, fan-out sums are recorded adds and
    undoing broadcasting a recorded ``sum`` and ``reshape``."""
    pending: dict[int, Tensor] = {}
    for root, g in zip(roots, grads, strict=True):
        g = g if isinstance(g, Tensor) else Tensor._from_op(g, None)
        previous = pending.get(id(root))
        pending[id(root)] = g if previous is None else previous + g
    collected: dict[int, Tensor] = {}
    for tensor in reversed(order):
        upstream = pending.pop(id(tensor), None)
        if upstream is None:
            continue
        node = tensor._ctx
        if targets is None:
            if node is None or retain_grads or tensor._retains_grad:
                _accumulate_recorded(tensor, upstream)
        elif id(tensor) in targets:
            if collect:
                collected[id(tensor)] = upstream
            else:
                _accumulate_recorded(tensor, upstream)
        if node is None:
            continue
        node.upstream_writable = False
        if node.uses_output:
            node.output = tensor
        try:
            input_grads = node.backward(upstream)
        finally:
            node.output = None
        if not isinstance(input_grads, tuple) or len(input_grads) != len(node.inputs):
            raise TypeError(_count_message(node, input_grads))
        for g in input_grads:  # (also those of inputs that need none, as the array walk)
            if g is not None and not isinstance(g, Tensor):
                raise TypeError(_not_a_tensor_message(node, g))
        if hooks is not None:
            hooks.after_backward(node, upstream, input_grads)
        summed: list[tuple[int, ...]] = []
        for parent, needed, g in zip(node.inputs, node.needs_input_grad, input_grads, strict=True):
            if not needed or g is None or (relevant is not None and id(parent) not in relevant):
                summed.append(())
                continue
            axes: tuple[int, ...] = ()
            if g.shape != parent.data.shape:
                axes = broadcast_axes(parent.data.shape, g.shape)
                if axes is None:
                    raise ValueError(
                        f"gradient of shape {g.shape} cannot be reduced to shape {parent.shape}"
                    )
                if axes:
                    g = g.sum(dim=axes, keepdim=True)
                g = g.reshape(parent.data.shape)
            summed.append(axes)
            if g.dtype != parent.data.dtype:
                raise TypeError(_dtype_message(node, g.dtype, parent))
            previous = pending.get(id(parent))
            pending[id(parent)] = g if previous is None else previous + g
        node.summed_axes = tuple(summed)
        if not retain_graph:
            node.release()
    return collected


def _array_of(node: Function, g: Any) -> np.ndarray | None:
    """The array of a gradient ``backward`` returned (recording off): None stays None.

    Raises
    ------
    TypeError
        When ``g`` is neither a Tensor (a subclass such as ``Parameter`` too) nor None: a
        float, a list or an array, naming the op.
    """
    if isinstance(g, Tensor):
        return g.data
    if g is None:
        return None
    raise TypeError(_not_a_tensor_message(node, g))


def _count_message(node: Function, grads: Any) -> str:
    expected = len(node.inputs)
    if isinstance(grads, tuple):
        got = f"a tuple of {len(grads)}"
    else:
        got = type(grads).__name__
    return f"{node.name}.backward must return a tuple of {expected} gradients, got {got}"


def _not_a_tensor_message(node: Function, g: Any) -> str:
    return (
        f"{node.name}.backward must return Tensors (or None), built from Tensor ops on its "
        f"upstream gradient, inputs and output, got {type(g).__name__}: a gradient computed "
        f"in numpy cannot be differentiated again (docs/higher-order.md)"
    )


def _dtype_message(node: Function, dtype: np.dtype, parent: Tensor) -> str:
    return (
        f"{node.name}.backward returned a {dtype} gradient for a {parent.data.dtype} input of "
        f"shape {parent.shape}"
    )


from tinygrad_cnn.tensor import Tensor  # noqa: E402  (Tensor's methods apply Functions: a cycle)
