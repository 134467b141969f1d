"""dgpose_tf: a TensorFlow/Keras model zoo of deep generative models for human-body analysis.

Submodules are imported on first attribute access so that ``import dgpose_tf`` stays fast and does
not load TensorFlow; ``dgpose_tf.pose`` is NumPy-only, ``dgpose_tf.geometry`` and
``dgpose_tf.metrics`` load TensorFlow only inside the functions that need it.
"""

import importlib

from ._version import __version__

_SUBMODULES = ("pose", "data", "geometry", "metrics", "cli")

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'dgpose_tf' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
