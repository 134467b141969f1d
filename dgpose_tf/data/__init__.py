"""Data: synthetic people and motion, loaders of the official dataset formats, tf.data pipelines.

Submodules load on first use: ``body`` and ``synthetic`` (synthetic people), ``motion`` and
``bvh``, ``asf_amc`` (synthetic and captured motion), ``detections`` (2-D detector output), ``shards``
(TFRecord files), ``pipeline`` (tf.data), ``records`` and one module per dataset format.
"""

from .._lazy import lazy_submodules

_SUBMODULES = ("body", "synthetic", "motion", "bvh", "asf_amc", "detections", "shards", "pipeline", "records",
               "lsp", "mpii", "coco", "deepfashion", "h36m", "mpi_inf_3dhp", "chictopia")

__getattr__ = lazy_submodules(__name__, _SUBMODULES)
