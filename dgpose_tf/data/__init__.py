"""Data: synthetic people and motion, loaders of the official dataset formats, tf.data pipelines.

Submodules load on first use: ``body`` and ``synthetic`` (synthetic people), ``shards``
(TFRecord files), ``pipeline`` (tf.data), ``records`` and one module per dataset format.
"""

from .._lazy import lazy_submodules

_SUBMODULES = ("body", "synthetic", "shards", "pipeline", "records", "lsp", "mpii", "coco",
               "deepfashion", "h36m", "mpi_inf_3dhp")

__getattr__ = lazy_submodules(__name__, _SUBMODULES)
