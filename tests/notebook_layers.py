"""The seed notebook's hand-written CNN, ported as the reference for tests and benchmarks.

A faithful port of the three layer classes of ``seed/cnn_from_scratch_notebook.txt``
(``Conv_layer``, ``Maxpool`` and ``Softmax``) and of its one-image training step
(``cnn_forward`` + ``train_cnn``). The loops, the layouts and the gradient rules are the
notebook's:

- one image at a time, float64, Python loops over every window;
- the conv output and the pooled maps are laid out ``(height, width, filters)`` (HWC), and the
  fully connected layer flattens that HWC array;
- ``Maxpool.backprop`` sends the upstream gradient to *every* element equal to the window's
  maximum (all tied maxima, not only the first);
- ``Softmax.backprop`` returns from inside its loop at the first non-zero entry of the upstream
  gradient (the notebook's gradient has one: ``-1 / p[label]``).

Only three things differ from the notebook, none of them in the arithmetic:

- the learning rate may be 0, and every ``backprop`` stores the gradients it computed
  (``last_grad_*``), so gradients can be read without changing the parameters;
- the random initialisation draws from a ``numpy.random.Generator`` (no global seed), in the
  notebook's order and with its scaling;
- names follow PEP 8 (``ConvLayer`` for ``Conv_layer``, ``biases`` for ``biaises``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class ConvLayer:
    """The notebook's ``Conv_layer``: ``num_filters`` single-channel filters, valid padding.

    Parameters
    ----------
    filter_size : int
        Height and width of each square filter.
    num_filters : int
        Number of filters (output channels).
    rng : numpy.random.Generator
        Source of the initial filters, ``standard_normal / filter_size**2`` as in the notebook.

    Attributes
    ----------
    filters : ndarray, shape (num_filters, filter_size, filter_size)
    last_grad_filters : ndarray or None
        dL/dfilters from the last ``backprop``.
    """

    def __init__(self, filter_size: int, num_filters: int, rng: np.random.Generator) -> None:
        self.num_filters = num_filters
        self.filter_size = filter_size
        self.filters = rng.standard_normal((num_filters, filter_size, filter_size)) / filter_size**2
        self.last_grad_filters: np.ndarray | None = None

    def image_region(self, image: np.ndarray) -> Iterator[tuple[np.ndarray, int, int]]:
        """Yield every filter-sized patch of ``image`` (H, W) with its top-left corner."""
        h, w = image.shape
        self.image = image
        for i in range(h - self.filter_size + 1):
            for j in range(w - self.filter_size + 1):
                image_patch = image[i : (i + self.filter_size), j : (j + self.filter_size)]
                yield image_patch, i, j

    def forward(self, image: np.ndarray) -> np.ndarray:
        """Convolve one image.

        Parameters
        ----------
        image : ndarray, shape (H, W)

        Returns
        -------
        ndarray, shape (H - filter_size + 1, W - filter_size + 1, num_filters)
        """
        h, w = image.shape
        conv_output = np.zeros(
            (h - self.filter_size + 1, w - self.filter_size + 1, self.num_filters)
        )
        for image_patch, i, j in self.image_region(image):
            conv_output[i, j] = np.sum(image_patch * self.filters, axis=(1, 2))
        return conv_output

    def backprop(self, dL_dout: np.ndarray, lr: float) -> np.ndarray:
        """Compute dL/dfilters, step the filters by ``-lr`` times it, and return it.

        Parameters
        ----------
        dL_dout : ndarray, shape (OH, OW, num_filters)
            Gradient of the loss with respect to this layer's last output.
        lr : float
            Learning rate; 0 leaves the filters unchanged.

        Returns
        -------
        ndarray, shape (num_filters, filter_size, filter_size)
        """
        dL_dFilter = np.zeros(self.filters.shape)
        for image_patch, i, j in self.image_region(self.image):
            for k in range(self.num_filters):
                dL_dFilter[k] += image_patch * dL_dout[i, j, k]
        self.filters -= lr * dL_dFilter
        self.last_grad_filters = dL_dFilter
        return dL_dFilter


class Maxpool:
    """The notebook's ``Maxpool``: non-overlapping ``filter_size`` windows over HWC maps.

    Backprop gives the window's upstream gradient to every element equal to its maximum, so
    a window with k tied maxima passes the gradient on k times.
    """

    def __init__(self, filter_size: int) -> None:
        self.filter_size = filter_size

    def image_region(self, image: np.ndarray) -> Iterator[tuple[np.ndarray, int, int]]:
        """Yield the non-overlapping windows of ``image`` (H, W, C) with their output index."""
        self.image = image
        h = image.shape[0] // self.filter_size
        w = image.shape[1] // self.filter_size
        for i in range(h):
            for j in range(w):
                image_patch = image[
                    (i * self.filter_size) : (i * self.filter_size + self.filter_size),
                    (j * self.filter_size) : (j * self.filter_size + self.filter_size),
                ]
                yield image_patch, i, j

    def forward(self, image: np.ndarray) -> np.ndarray:
        """Pool one stack of maps.

        Parameters
        ----------
        image : ndarray, shape (H, W, C)

        Returns
        -------
        ndarray, shape (H // filter_size, W // filter_size, C)
        """
        h, w, num_filters = image.shape
        maxpool_output = np.zeros((h // self.filter_size, w // self.filter_size, num_filters))
        for image_patch, i, j in self.image_region(image):
            maxpool_output[i, j] = np.amax(image_patch, axis=(0, 1))
        return maxpool_output

    def backprop(self, dL_dout: np.ndarray) -> np.ndarray:
        """Route ``dL_dout`` (OH, OW, C) to every maximum of each window; returns (H, W, C)."""
        dL_dMaxpool = np.zeros(self.image.shape)
        for image_patch, i, j in self.image_region(self.image):
            h, w, num_filters = image_patch.shape
            max_val = np.amax(image_patch, axis=(0, 1))
            for ii in range(h):
                for jj in range(w):
                    for kk in range(num_filters):
                        if image_patch[ii, jj, kk] == max_val[kk]:
                            dL_dMaxpool[
                                (i * self.filter_size + ii), (j * self.filter_size + jj), kk
                            ] = dL_dout[i, j, kk]
        return dL_dMaxpool


class Softmax:
    """The notebook's ``Softmax``: a fully connected layer on the HWC-flattened input + softmax.

    Parameters
    ----------
    input_node : int
        Length of the flattened input.
    softmax_node : int
        Number of classes.
    rng : numpy.random.Generator
        Source of the initial weights (``standard_normal / input_node``) and biases
        (``standard_normal``), drawn in the notebook's order.

    Attributes
    ----------
    weights : ndarray, shape (input_node, softmax_node)
    biases : ndarray, shape (softmax_node,)
    last_grad_weights, last_grad_biases : ndarray or None
        dL/dweights and dL/dbiases from the last ``backprop``.
    """

    def __init__(self, input_node: int, softmax_node: int, rng: np.random.Generator) -> None:
        self.weights = rng.standard_normal((input_node, softmax_node)) / input_node
        self.biases = rng.standard_normal(softmax_node)
        self.last_grad_weights: np.ndarray | None = None
        self.last_grad_biases: np.ndarray | None = None

    def forward(self, image: np.ndarray) -> np.ndarray:
        """Class probabilities of one input.

        Parameters
        ----------
        image : ndarray, shape (H, W, C)
            Flattened in C order, i.e. HWC: element ``(h, w, c)`` lands at ``(h * W + w) * C + c``.

        Returns
        -------
        ndarray, shape (softmax_node,)
            ``exp(z) / sum(exp(z))`` of the logits ``z`` (unshifted, as in the notebook).
        """
        self.orig_img_shape = image.shape
        image_flat = image.flatten()
        self.flat_input = image_flat
        output_val = np.dot(image_flat, self.weights) + self.biases
        self.out = output_val
        exp_output = np.exp(output_val)
        return exp_output / np.sum(exp_output, axis=0)

    def backprop(self, dL_dout: np.ndarray, lr: float) -> np.ndarray | None:
        """Backpropagate the gradient of the probabilities, stepping the parameters by ``-lr``.

        As in the notebook, only the first non-zero entry of ``dL_dout`` is used: the loop
        returns at it (the notebook's gradient has exactly one non-zero entry).

        Parameters
        ----------
        dL_dout : ndarray, shape (softmax_node,)
            Gradient of the loss with respect to the probabilities.
        lr : float
            Learning rate; 0 leaves the parameters unchanged.

        Returns
        -------
        ndarray of the input's shape (H, W, C), or None when ``dL_dout`` is all zeros.
        """
        for i, grad in enumerate(dL_dout):
            if grad == 0:
                continue

            exp_z = np.exp(self.out)
            S = np.sum(exp_z)

            dout_dz = -exp_z[i] * exp_z / S**2
            dout_dz[i] = exp_z[i] * (S - exp_z[i]) / S**2

            dz_dw = self.flat_input
            dz_db = 1
            dz_dinp = self.weights

            dL_dz = grad * dout_dz
            dL_dw = dz_dw[np.newaxis].T @ dL_dz[np.newaxis]
            dL_db = dL_dz * dz_db
            dL_dinp = dz_dinp @ dL_dz

            self.weights -= lr * dL_dw
            self.biases -= lr * dL_db
            self.last_grad_weights, self.last_grad_biases = dL_dw, dL_db

            return dL_dinp.reshape(self.orig_img_shape)
        return None


class NotebookCNN:
    """The notebook's network, ``Conv_layer(8, 3) -> Maxpool(2) -> Softmax(300, 10)``.

    Parameters
    ----------
    seed : int or numpy.random.Generator
        Seeds the initial parameters (filters, then weights, then biases, as in the notebook).

    Examples
    --------
    >>> net = NotebookCNN(seed=0)
    >>> image = np.zeros((28, 28), dtype=np.uint8)
    >>> loss, correct = net.train_step(image, label=3, lr=0.005)
    >>> net.grad_filters.shape, net.grad_weights.shape, net.grad_biases.shape
    ((3, 8, 8), (300, 10), (10,))
    """

    def __init__(self, seed: int | np.random.Generator) -> None:
        rng = np.random.default_rng(seed)
        self.conv = ConvLayer(8, 3, rng)
        self.pool = Maxpool(2)
        self.softmax = Softmax(10 * 10 * 3, 10, rng)

    # ------------------------------------------------------------------ parameters
    @property
    def filters(self) -> np.ndarray:
        """The conv filters, shape (3, 8, 8)."""
        return self.conv.filters

    @property
    def weights(self) -> np.ndarray:
        """The fully connected weights, shape (300, 10), rows in HWC order of the pooled maps."""
        return self.softmax.weights

    @property
    def biases(self) -> np.ndarray:
        """The fully connected biases, shape (10,)."""
        return self.softmax.biases

    @property
    def grad_filters(self) -> np.ndarray | None:
        """dL/dfilters of the last training step, shape (3, 8, 8)."""
        return self.conv.last_grad_filters

    @property
    def grad_weights(self) -> np.ndarray | None:
        """dL/dweights of the last training step, shape (300, 10)."""
        return self.softmax.last_grad_weights

    @property
    def grad_biases(self) -> np.ndarray | None:
        """dL/dbiases of the last training step, shape (10,)."""
        return self.softmax.last_grad_biases

    # ------------------------------------------------------------------ the notebook's functions
    def forward(self, image: np.ndarray, label: int) -> tuple[np.ndarray, float, int]:
        """The notebook's ``cnn_forward``: probabilities, cross-entropy loss and accuracy.

        Parameters
        ----------
        image : ndarray, shape (28, 28)
            Pixel values in [0, 255] (uint8 as in MNIST, or floats); scaled to
            ``image / 255 - 0.5`` first.
        label : int
            The true digit.

        Returns
        -------
        probs : ndarray, shape (10,)
        loss : float
            ``-log(probs[label])``.
        correct : int
            1 when ``argmax(probs) == label``, else 0.
        """
        output = self.conv.forward((image / 255) - 0.5)
        output = self.pool.forward(output)
        output = self.softmax.forward(output)
        cross_ent = -np.log(output[label])
        accuracy = 1 if np.argmax(output) == label else 0
        return output, float(cross_ent), accuracy

    def train_step(self, image: np.ndarray, label: int, lr: float) -> tuple[float, int]:
        """The notebook's ``train_cnn``: one forward and backward pass and an SGD step.

        Parameters
        ----------
        image : ndarray, shape (28, 28)
            Pixel values in [0, 255], see :meth:`forward`.
        label : int
            The true digit.
        lr : float
            Learning rate; 0 computes the gradients (``grad_*``) without updating anything.

        Returns
        -------
        loss : float
        correct : int
        """
        output, loss, acc = self.forward(image, label)
        gradient = np.zeros(10)
        gradient[label] = -1 / output[label]
        gradback = self.softmax.backprop(gradient, lr)
        gradback = self.pool.backprop(gradback)
        self.conv.backprop(gradback, lr)
        return loss, acc
