"""Shared machinery of the Keras fit scripts in ``training/``: configs, strategies, callbacks.

A config is a JSON file per zoo entry: ``name``, ``family``, ``model`` (constructor arguments),
``data``, ``train`` (steps, batch size, optimiser settings), ``seed``, ``output``. ``dgpose train
CONFIG`` loads it and runs ``training/fit_<family>.py`` next to the config's folder, whose
``main(config, **overrides)`` does the work.

Callbacks (:func:`standard_callbacks`): weights checkpoint of the last epoch, BackupAndRestore
(a killed run resumes from its last finished epoch: model weights and epoch counter; the
optimisers' moments restart), TensorBoard scalars, image summaries (inputs, reconstructions and
estimated-pose overlays), TerminateOnNaN, and Keras's progress bar.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

__all__ = ["load_config", "make_strategy", "standard_callbacks", "ImageSummary", "run_config"]

_REQUIRED = ("name", "family", "model", "data", "train")


def load_config(path):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"training config not found: {path}")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    missing = [k for k in _REQUIRED if k not in config]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}")
    config["_path"] = str(path.resolve())
    return config


def make_strategy(name="default"):
    """``"default"`` (one device), ``"mirrored"`` (all local devices) or ``"multiworker"``."""
    import tensorflow as tf

    if name in (None, "default"):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"strategy must be 'default', 'mirrored' or 'multiworker', got {name!r}")


class ImageSummary:
    """Factory of a Keras callback writing image grids to TensorBoard at each epoch end:
    the input images, their reconstructions and the estimated poses drawn on the inputs."""

    def __new__(cls, log_dir, images, every=1):
        import keras
        import tensorflow as tf

        from .pose.draw import draw_skeleton, image_grid

        images = np.asarray(images, np.float32)

        class _Summary(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.writer = tf.summary.create_file_writer(str(Path(log_dir) / "images"))

            def on_epoch_end(self, epoch, logs=None):
                if epoch % every:
                    return
                to_u8 = lambda x: np.clip((np.asarray(x) + 1) * 127.5, 0, 255).astype(np.uint8)
                rec = to_u8(self.model.reconstruct(images))
                inp = to_u8(images)
                joints = np.asarray(self.model.estimate_pose(images))
                poses = np.stack([draw_skeleton(im, j, thickness=1) for im, j in zip(inp, joints)])
                with self.writer.as_default():
                    for name, pics in (("inputs", inp), ("reconstructions", rec),
                                       ("estimated_pose", poses)):
                        tf.summary.image(name, image_grid(pics, cols=8)[None], step=epoch)
                self.writer.flush()

        return _Summary()


def standard_callbacks(out_dir, preview_images=None):
    import keras

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cbs = [keras.callbacks.TerminateOnNaN(),
           keras.callbacks.BackupAndRestore(str(out / "backup")),
           keras.callbacks.ModelCheckpoint(str(out / "last.weights.h5"), save_weights_only=True),
           keras.callbacks.TensorBoard(str(out / "tensorboard"), write_graph=False)]
    if preview_images is not None:
        cbs.append(ImageSummary(out / "tensorboard", preview_images))
    return cbs


def run_config(path, **overrides):
    """Run the fit script of a config's family (``training/fit_<family>.py``)."""
    config = load_config(path)
    candidates = [Path(config["_path"]).parent / f"fit_{config['family']}.py",
                  Path(config["_path"]).parent.parent / f"fit_{config['family']}.py"]
    script = next((c for c in candidates if c.exists()), None)
    if script is None:
        raise FileNotFoundError(f"no fit script for family {config['family']!r}: looked for "
                                f"{', '.join(str(c) for c in candidates)}")
    spec = importlib.util.spec_from_file_location(f"fit_{config['family']}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(config, **overrides)
