"""Training losses: a registry of :class:`Loss` objects.

Add a loss: write one file with a :class:`Loss` subclass (a torch
implementation, optionally a numpy ``value_and_grad`` or a
``device_kernel``) and add one ``register_loss`` line below. The config,
the CLI's ``--loss`` choices and the Train widget's loss combo read this
registry. Importing this package imports neither torch nor numba; the MALIS
functions live in ``losses.malis``.
"""

from ._base import LOSSES, Loss, LossBatch, LossEntry, loss_names, make_loss, register_loss
from .crf import SoftmaxCRFLoss
from .malis_loss import MalisLoss
from .regression import FeatureRegression
from .softmax import SoftmaxCrossEntropy, inverse_frequency_weights, softmax_cross_entropy

register_loss("softmax", "softmax cross-entropy", SoftmaxCrossEntropy.from_config)
register_loss("malis", "MALIS (constrained)", MalisLoss.from_config)
register_loss("softmax+crf", "softmax + image CRF (strokes)", SoftmaxCRFLoss.from_config)
# FeatureRegression (pretraining) is passed as an object, never chosen by name

__all__ = [
    "FeatureRegression",
    "LOSSES",
    "Loss",
    "LossBatch",
    "LossEntry",
    "MalisLoss",
    "SoftmaxCRFLoss",
    "SoftmaxCrossEntropy",
    "inverse_frequency_weights",
    "loss_names",
    "make_loss",
    "register_loss",
    "softmax_cross_entropy",
]
