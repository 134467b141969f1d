"""Data: synthetic people and motion, loaders of the official dataset formats, tf.data pipelines.

Submodules load on first use: ``body`` and ``synthetic`` (synthetic people), ``shards``
(TFRecord files), ``pipeline`` (tf.data), ``records`` and one module per dataset format.
"""

import importlib

_SUBMODULES = ("body", "synthetic", "shards", "pipeline", "records", "lsp", "mpii", "coco",
               "deepfashion", "h36m", "mpi_inf_3dhp")


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'dgpose_tf.data' has no attribute {name!r}")
