"""The default random generator, as PyTorch's: ``manual_seed(0)`` makes every later draw
reproducible.

One ``numpy.random.Generator`` lives here. It is, with grad mode, the library's only global
state: :func:`tinygrad_cnn.rand`, ``randn``, ``randint``, ``rand_like``, ``randn_like``, the
initialisers of :mod:`tinygrad_cnn.nn.init` and the layers' default initialisation draw from
it unless they are given a seed or a generator of their own. numpy's global random state
(``np.random.seed``) is never read or written.

>>> from tinygrad_cnn import manual_seed, randn
>>> _ = manual_seed(0)
>>> a = randn(3)
>>> _ = manual_seed(0)
>>> bool((randn(3).numpy() == a.numpy()).all())
True
"""

from __future__ import annotations

import numpy as np

Seed = int | np.random.Generator | None

_default_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator; returns it (as ``torch.manual_seed``).

    The generator object stays the same (code holding it sees the new stream).

    Parameters
    ----------
    seed : int
        A non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"manual_seed: expected an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: expected a non-negative seed, got {seed}")
    _default_generator.bit_generator.state = np.random.PCG64(int(seed)).state
    return _default_generator


def default_generator() -> np.random.Generator:
    """The default generator (``torch.default_generator``), seeded by :func:`manual_seed`."""
    return _default_generator


def generator(seed: Seed, op: str = "generator") -> np.random.Generator:
    """The generator to draw from: the default one for ``None``, a new one seeded with an
    ``int``, or the given ``numpy.random.Generator`` itself (draws continue from it)."""
    if seed is None:
        return _default_generator
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(
            f"{op}: expected a seed (int), a numpy.random.Generator or None, "
            f"got {type(seed).__name__}"
        )
    return np.random.default_rng(int(seed))


__all__ = ["Seed", "default_generator", "generator", "manual_seed"]
