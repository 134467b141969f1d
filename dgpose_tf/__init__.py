"""dgpose_tf: a TensorFlow/Keras model zoo of deep generative models for human-body analysis.

Submodules are imported on first attribute access so that ``import dgpose_tf`` stays fast and does
not load TensorFlow; ``dgpose_tf.pose`` is NumPy-only, ``dgpose_tf.geometry`` and
``dgpose_tf.metrics`` load TensorFlow only inside the functions that need it.
"""

from ._lazy import lazy_submodules
from ._version import __version__

_SUBMODULES = ("pose", "data", "geometry", "layers", "models", "metrics", "fit", "evaluate",
               "serving", "zoo", "cli")

__all__ = ["__version__", *_SUBMODULES]


__getattr__ = lazy_submodules(__name__, _SUBMODULES)


def __dir__():
    return sorted(__all__)
