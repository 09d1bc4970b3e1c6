"""ONNX export: a model or a function of tensors, traced once, as an ``.onnx`` file.

>>> from tinygrad_cnn.models import lenet
>>> from tinygrad_cnn.onnx import export
>>> import numpy as np
>>> images = np.zeros((1, 1, 28, 28), np.float32)
>>> export(lenet(), images, "lenet.onnx")  # doctest: +SKIP

Needs the ``onnx`` package (the ``onnx`` extra: ``pip install "tinygrad_cnn[onnx]"``, which
also installs onnxruntime to run the file). Modules: ``exporter`` (:func:`export`: the trace,
the walk, the model), ``rules`` (one export rule per registered op, and the ops that have
none), ``builder`` (the ONNX graph being written). See docs/interop.md.
"""

try:
    import onnx as _onnx  # noqa: F401  (the real onnx package: imports here are absolute)
except ImportError as error:  # pragma: no cover - depends on the machine
    raise ImportError(
        "tinygrad_cnn.onnx needs the onnx package: pip install 'tinygrad_cnn[onnx]'"
    ) from error

from tinygrad_cnn.onnx.exporter import DEFAULT_OPSET, export
from tinygrad_cnn.onnx.rules import EXPORT_RULES, NOT_EXPORTABLE, OnnxExportError

__all__ = ["DEFAULT_OPSET", "EXPORT_RULES", "NOT_EXPORTABLE", "OnnxExportError", "export"]
