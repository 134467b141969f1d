"""SavedModels for TF Serving: export with named signatures, and the TF Serving model config.

:func:`export` writes a Keras model of any family as a SavedModel with
``keras.export.ExportArchive``: one endpoint per application (the family's
``serving_endpoints()``), dict outputs with meaningful names, a dynamic batch dimension, and a
``serving_default`` (the family's ``SERVING_DEFAULT``). The version folder is written to a
temporary sibling and renamed into place, so a failed export leaves nothing half-written.

Layout, as TF Serving expects: ``<base>/<name>/<version>/saved_model.pb`` + ``variables/``.
The variables are written in shards of at most :data:`MAX_SHARD_BYTES` (TensorFlow's own
``MaxShardSizePolicy``; a sharded checkpoint is the standard format every TensorFlow reader and
TF Serving load), so no file of an entry is too large for the repository.
:func:`models_config` writes the ``model_config_list`` text proto for a folder of such models.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

__all__ = ["export", "models_config", "rest_predict", "MAX_SHARD_BYTES"]

#: Largest variables file an export writes (16 MiB; the repository keeps files under 20 MB).
MAX_SHARD_BYTES = 16 * 2 ** 20


def endpoints_of(model):
    """Every SavedModel signature of a model: its own ``serving_endpoints()``, plus, for the
    pose-sequence AE-GAN, the inpainting procedure's ``inpaint``
    (:func:`dgpose_tf.models.inpainting.serving_endpoints`)."""
    if not hasattr(model, "serving_endpoints"):
        raise TypeError(f"{type(model).__name__} has no serving_endpoints(); not a dgpose_tf "
                        "model family")
    from .models.pose_sequence_aegan import PoseSequenceAEGAN
    if isinstance(model, PoseSequenceAEGAN):
        from .models.inpainting import serving_endpoints
        return serving_endpoints(model)
    return model.serving_endpoints()


def _float16_storage(model, endpoints):
    """Endpoints that read every float32 weight of ``model`` from a float16 copy (cast back to
    float32 in the graph, so the computation is unchanged but for the weights' rounding), and
    the module holding the copies (named by each weight's path with ``__`` for ``/``, which
    :func:`dgpose_tf.zoo.assign_saved_model_variables` matches). The float16 bits are stored as
    int16 (``tf.bitcast``): TensorFlow's restore op refuses float16 variables in a sharded
    checkpoint (``Dtype half not supported``), int16 it reads."""
    import keras
    import tensorflow as tf

    holder = tf.Module(name="float16_weights")
    pairs = []
    for w in model.weights:
        half = w.dtype == "float32"
        value = tf.bitcast(tf.cast(w.value, tf.float16), tf.int16) if half else w.value
        v = tf.Variable(value, trainable=False, name=w.path.replace("/", "__"))
        pairs.append((w, v, half))
    holder.weights = [v for _, v, _ in pairs]

    def reading(fn):
        def wrapped(*args):
            mapping = [(w, tf.cast(tf.bitcast(v, tf.float16), tf.float32) if half
                        else tf.identity(v)) for w, v, half in pairs]
            with keras.StatelessScope(state_mapping=mapping):
                return fn(*args)
        return wrapped

    return {k: (reading(fn), spec) for k, (fn, spec) in endpoints.items()}, holder


def export(model, path, track=True, max_shard_bytes=MAX_SHARD_BYTES, storage="float32"):
    """Export ``model`` as a SavedModel at ``path`` (a version folder, e.g.
    ``saved_models/<name>/1``). Returns the path.

    ``track=False`` leaves out ``ExportArchive.track(model)``: the endpoints still capture every
    variable they use, but the checkpoint then holds each variable once — tracking the model adds
    the Keras variables as a second list (``variables`` beside the endpoints' ``_all_variables``),
    written twice. ``max_shard_bytes``: the largest variables file (None: one file).
    ``storage="float16"``: the weights are stored as float16 (half the size) and cast to float32
    in the graph (:func:`_float16_storage`); nothing else is tracked."""
    import keras
    import tensorflow as tf

    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; remove it or export another version")
    if not hasattr(model, "serving_endpoints"):
        raise TypeError(f"{type(model).__name__} has no serving_endpoints(); not a dgpose_tf "
                        "model family")
    if not model.built:
        model.build()
    if storage not in ("float32", "float16"):
        raise ValueError(f"storage must be 'float32' or 'float16', got {storage!r}")
    archive = keras.export.ExportArchive()
    endpoints = endpoints_of(model)
    if storage == "float16":
        endpoints, holder = _float16_storage(model, endpoints)
        archive.track(holder)
    elif track:
        archive.track(model)
    for name, (fn, spec) in endpoints.items():
        archive.add_endpoint(name=name, fn=fn, input_signature=spec)
    default_fn, default_spec = endpoints[model.SERVING_DEFAULT]
    archive.add_endpoint(name="serving_default", fn=default_fn, input_signature=default_spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=path.parent))
    try:
        options = None
        if max_shard_bytes:
            options = tf.saved_model.SaveOptions(
                experimental_sharding_callback=tf.train.experimental.MaxShardSizePolicy(
                    int(max_shard_bytes)))
        archive.write_out(str(tmp), options=options, verbose=False)
        tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def models_config(base, names=None, container_base="/models"):
    """The TF Serving ``--model_config_file`` text for every model folder under ``base`` (or
    ``names``), with paths as seen inside the serving container (``container_base``)."""
    base = Path(base)
    if names is None:
        names = sorted(p.name for p in base.iterdir()
                       if p.is_dir() and any(c.name.isdigit() for c in p.iterdir()))
    entries = "".join(
        f'  config {{\n    name: "{n}"\n    base_path: "{container_base}/{n}"\n'
        f'    model_platform: "tensorflow"\n  }}\n' for n in names)
    return f"model_config_list {{\n{entries}}}\n"


def rest_predict(model, signature, inputs, url="http://localhost:8501", timeout=60):
    """Call TF Serving's REST API (``POST /v1/models/<model>:predict``, columnar ``inputs``) and
    return the outputs as numpy arrays."""
    import json
    import urllib.request

    import numpy as np

    body = json.dumps({"signature_name": signature,
                       "inputs": {k: np.asarray(v).tolist() for k, v in inputs.items()}})
    req = urllib.request.Request(f"{url.rstrip('/')}/v1/models/{model}:predict",
                                 body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        outputs = json.loads(r.read())["outputs"]
    if not isinstance(outputs, dict):          # a single unnamed output
        outputs = {"output": outputs}
    return {k: np.asarray(v, np.float32) for k, v in outputs.items()}
