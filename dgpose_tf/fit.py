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

__all__ = ["load_config", "make_strategy", "standard_callbacks", "ImageSummary", "run_config",
           "start_run", "training_dataset", "fit_and_save", "load_run"]

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
    """Factory of a Keras callback writing image grids to TensorBoard at each epoch end: the
    input images, their reconstructions and a pose drawn on the inputs, from the model's
    ``preview(batch)`` → ``(reconstructions, joints)`` (Semi-DGPose: the estimated pose;
    Conditional-DGPose: the conditioning pose)."""

    def __new__(cls, log_dir, batch, every=1):
        import keras
        import tensorflow as tf

        from .pose.draw import draw_skeleton, image_grid

        batch = {k: np.asarray(v) for k, v in batch.items()}

        class _Summary(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.writer = tf.summary.create_file_writer(str(Path(log_dir) / "images"))

            def on_epoch_end(self, epoch, logs=None):
                if epoch % every:
                    return
                to_u8 = lambda x: np.clip((np.asarray(x) + 1) * 127.5, 0, 255).astype(np.uint8)
                rec, joints = self.model.preview(batch)
                inp = to_u8(batch["image"])
                poses = np.stack([draw_skeleton(im, j, thickness=1)
                                  for im, j in zip(inp, np.asarray(joints))])
                with self.writer.as_default():
                    for name, pics in (("inputs", inp), ("reconstructions", to_u8(rec)),
                                       ("pose", poses)):
                        tf.summary.image(name, image_grid(pics, cols=8)[None], step=epoch)
                self.writer.flush()

        return _Summary()


def standard_callbacks(out_dir, preview_batch=None):
    import keras

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cbs = [keras.callbacks.TerminateOnNaN(),
           keras.callbacks.BackupAndRestore(str(out / "backup")),
           keras.callbacks.ModelCheckpoint(str(out / "last.weights.h5"), save_weights_only=True),
           keras.callbacks.TensorBoard(str(out / "tensorboard"), write_graph=False)]
    if preview_batch is not None:
        cbs.append(ImageSummary(out / "tensorboard", preview_batch))
    return cbs


def start_run(config, strategy=None, output=None):
    """Seed everything from ``config["seed"]``, create the output directory and the strategy:
    returns ``(output_dir, strategy)``."""
    import keras

    keras.utils.set_random_seed(int(config.get("seed", 0)))
    out = Path(output or config["output"])
    out.mkdir(parents=True, exist_ok=True)
    return out, make_strategy(strategy or config["train"].get("strategy", "default"))


# data.source → (module of dgpose_tf.data, loader, its keyword arguments for the training split)
LOADERS = {"h36m": ("h36m", "load_h36m_npz", {"split": "train"}),
           "deepfashion": ("deepfashion", "load_deepfashion_annotations", {}),
           "chictopiaplus": ("chictopia", "load_chictopia", {"split": "train"})}


def training_dataset(data, batch_size, heatmaps):
    """The endless training batches a config's ``data`` section names: ``"synthetic"`` (``seed``,
    ``size``, labelled ``fraction``), ``"shards"`` (``dir`` written by ``dgpose data synth``) or
    a dataset in its official format (``"h36m"``, ``"deepfashion"``, ``"chictopiaplus"``: files
    under ``dir`` — set by ``dgpose train --data-dir`` — with ``annotations`` naming the
    annotation file inside it)."""
    import importlib

    from .data import pipeline

    source = data.get("source", "synthetic")
    fraction = data.get("fraction", 1.0)
    if source == "synthetic":
        return pipeline.synthetic_dataset(None, batch_size, data.get("size", 64),
                                          data.get("seed", 0), fraction=fraction,
                                          heatmaps=heatmaps)
    if source == "shards":
        return pipeline.shard_dataset(data["dir"], batch_size, fraction, heatmaps=heatmaps,
                                      shuffle=4096).repeat()
    if source in LOADERS:
        if not data.get("dir"):
            raise ValueError(f"data.dir is not set: pass --data-dir with the {source} files "
                             f"(see the config's 'about')")
        root = Path(data["dir"])
        if not root.is_dir():
            raise FileNotFoundError(f"data directory not found: {root}")
        module, loader, kwargs = LOADERS[source]
        fn = getattr(importlib.import_module(f"dgpose_tf.data.{module}"), loader)
        records = fn(root / data["annotations"] if data.get("annotations") else root,
                     **{**kwargs, **data.get("loader_args", {})})
        return pipeline.records_dataset(records, batch_size, data.get("size", 64), fraction,
                                        data.get("normalise", "tanh"), heatmaps,
                                        cache=data.get("cache")).repeat()
    raise ValueError(f"data.source must be 'synthetic', 'shards' or one of "
                     f"{', '.join(LOADERS)}; got {source!r}")


def fit_and_save(model, config, out, steps=None, heatmaps=True):
    """``model.fit`` for ``train.steps`` steps (epochs of ``train.steps_per_epoch``) with the
    standard callbacks, then ``<out>/<family>.weights.h5`` and ``<out>/config.json``."""
    from .data import pipeline

    train, data = config["train"], config["data"]
    total = int(steps or train["steps"])
    per_epoch = int(min(total, train.get("steps_per_epoch", 500)))
    preview = next(iter(pipeline.synthetic_dataset(16, 16, seed=10_000 + data.get("seed", 0))))
    saved = {k: v for k, v in config.items() if not k.startswith("_")}
    (Path(out) / "config.json").write_text(json.dumps(saved, indent=1))
    print(f"{config['family']}: {total} steps of batch {train.get('batch_size', 64)}, "
          f"labelled fraction {data.get('fraction', 1.0)}")
    history = model.fit(training_dataset(data, train.get("batch_size", 64), heatmaps),
                        steps_per_epoch=per_epoch, epochs=max(1, total // per_epoch),
                        callbacks=standard_callbacks(out, preview))
    weights = Path(out) / f"{config['family']}.weights.h5"
    model.save_weights(str(weights))
    print(f"saved {weights}")
    return history


def load_run(path):
    """``(model, config)`` of a finished training run: a directory holding ``config.json`` and
    ``<family>.weights.h5`` (or ``last.weights.h5`` of an unfinished run), or one of those
    weights files with ``config.json`` beside it."""
    from .models import build_model

    path = Path(path)
    folder = path.parent if path.is_file() else path
    cfg_file = folder / "config.json"
    if not cfg_file.exists():
        raise FileNotFoundError(f"{path} is not a training run: no config.json in {folder}")
    config = json.loads(cfg_file.read_text())
    if path.is_file():
        weights = path
    else:
        weights = next((w for w in (folder / f"{config['family']}.weights.h5",
                                    folder / "last.weights.h5") if w.exists()), None)
        if weights is None:
            raise FileNotFoundError(f"no {config['family']}.weights.h5 or last.weights.h5 in "
                                    f"{folder}")
    return build_model(config["family"], config["model"], weights), config


def script_main(main, argv=None):
    """``python training/fit_<family>.py CONFIG.json``: load the config and run ``main``."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit(f"usage: python {sys.argv[0]} CONFIG.json")
    return main(load_config(argv[0]))


def run_config(path, data_dir=None, **overrides):
    """Run the fit script of a config's family (``training/fit_<family>.py``); ``data_dir``
    sets ``data.dir`` (the dataset's files)."""
    config = load_config(path)
    if data_dir is not None:
        config["data"]["dir"] = str(data_dir)
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
