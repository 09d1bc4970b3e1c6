"""Optimizers (:class:`SGD`, :class:`Adam`, :class:`AdamW`, :class:`RMSprop`) and learning-rate
schedulers (:mod:`tinygrad_cnn.optim.lr_scheduler`), with PyTorch's names and rules.

Each optimizer holds ``param_groups`` (lists of parameters with their own hyperparameters, as
in PyTorch, so a schedule can change ``group["lr"]`` between steps) and per-parameter ``state``
(momentum buffers, moment estimates). ``step()`` updates ``param.data`` in place: the array
keeps its identity and dtype (a float32 parameter stays float32), and parameters whose
``grad`` is None are skipped.

>>> from tinygrad_cnn import Tensor, nn, optim
>>> model = nn.Linear(3, 1, seed=0)
>>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> sched = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
>>> loss = (model(Tensor([[1.0, 2.0, 3.0]])) ** 2).sum()
>>> loss.backward(); opt.step(); opt.zero_grad(); sched.step()
"""

from tinygrad_cnn.optim import lr_scheduler
from tinygrad_cnn.optim.optimizer import SGD, Adam, AdamW, Optimizer, RMSprop

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
