"""Shared machinery of the Keras fit scripts in ``training/``: configs, strategies, callbacks.

A config is a JSON file per zoo entry: ``name``, ``family``, ``model`` (constructor arguments),
``data``, ``train`` (steps, batch size, optimiser settings), ``seed``, ``output``. ``dgpose train
CONFIG`` loads it and runs ``training/fit_<family>.py`` next to the config's folder, whose
``main(config, **overrides)`` does the work.

Callbacks (:func:`standard_callbacks`): weights checkpoint of the last epoch, BackupAndRestore
(a killed run resumes from its last finished epoch: model weights and epoch counter; the
optimisers' moments restart), TensorBoard scalars, image summaries (inputs, reconstructions and
estimated-pose overlays), held-out curves (:class:`HeldOutCurves`: every ``train.eval_every``
steps the figures of :mod:`dgpose_tf.evaluate` on ``train.eval_n`` people of
:data:`~dgpose_tf.evaluate.VALIDATION_SEED`, into ``curves.csv``, TensorBoard and
``curves.png`` with the trivial answers drawn), TerminateOnNaN, and Keras's progress bar.

``train.precision``: ``"float32"`` (default) or ``"mixed_bfloat16"`` (Keras dtype policy: layers
compute in bfloat16, variables and losses stay float32), used only where the CPU computes
bfloat16 natively (AVX512_BF16 / AMX); elsewhere the run says so and stays in float32.
``train.beta_1``, ``train.d_learning_rate``, ``train.label_smoothing``, ``train.kl_warmup``,
``train.kl_beta``: the optimiser and loss settings
of :meth:`dgpose_tf.models.vaegan.VAEGAN.compile` (defaults: the papers').
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

__all__ = ["load_config", "make_strategy", "standard_callbacks", "ImageSummary", "HeldOutCurves",
           "run_config", "start_run", "training_dataset", "fit_and_save", "load_run",
           "gan_settings", "native_bfloat16"]

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


class HeldOutCurves:
    """Factory of a Keras callback that evaluates the model every ``every`` training steps on
    ``n`` held-out people (:data:`dgpose_tf.evaluate.VALIDATION_SEED`) with
    :func:`dgpose_tf.evaluate.evaluate` and appends the scalar figures to ``<out>/curves.csv``
    (with ``step`` and ``images`` seen), to TensorBoard (``heldout/…``) and redraws
    ``<out>/curves.png`` (the trivial answers as flat lines). A resumed run appends to the same
    CSV. A Semi-DGPose is its own pose model here (PCK of its reconstructions and transfers)."""

    FIGURES = ("pck@0.5", "reconstruction_masked_ssim", "reconstruction_ssim", "transfer_ssim",
               "transfer_masked_ssim")

    def __new__(cls, out_dir, every, n=128, batch_size=1, step0=0):
        import keras
        import tensorflow as tf

        from . import evaluate as ev

        data = ev.synthetic_test_set(n, ev.VALIDATION_SEED)
        out = Path(out_dir)
        path = out / "curves.csv"

        class _Curves(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.writer = tf.summary.create_file_writer(str(out / "tensorboard" / "heldout"))
                self.answers = None
                self.step = int(step0)

            def on_train_batch_end(self, batch, logs=None):
                self.step += 1
                if self.step % every == 0:
                    self.measure()

            def measure(self):
                model = self.model
                pose_model = model if hasattr(model, "estimate_pose") else None
                if self.answers is None:
                    self.answers = ev.trivial_answers(data, pose_model)
                res = ev.evaluate(model, data=data, seed=ev.VALIDATION_SEED,
                                  pose_model=pose_model, answers=self.answers)
                row = {"step": self.step, "images": self.step * batch_size,
                       **{k: v for k, v in res.items() if isinstance(v, float)}}
                append_row(path, row)
                with self.writer.as_default():
                    for k, v in row.items():
                        if k not in ("step", "images"):
                            tf.summary.scalar(f"heldout/{k}", v, step=self.step)
                self.writer.flush()
                draw_curves(path, out / "curves.png", res["trivial"])
                shown = ", ".join(f"{k} {row[k]:.3f}" for k in HeldOutCurves.FIGURES if k in row)
                print(f"\nheld-out @ step {self.step}: {shown}")

        return _Curves()


def append_row(path, row):
    """Append a dict as a CSV row (header first if the file is new): the learning-curve files."""
    import csv

    new = not Path(path).exists()
    with Path(path).open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)


def draw_curves(csv_path, png_path, answers=None, figures=HeldOutCurves.FIGURES):
    """Learning curves of a ``curves.csv`` as a PNG: each figure against images seen, with its
    trivial answer as a flat line."""
    import csv

    import cv2

    from .evaluate import TRIVIAL
    from .pose.draw import line_plot

    rows = list(csv.DictReader(Path(csv_path).open()))
    if len(rows) < 1:
        return
    x = np.array([float(r["images"]) for r in rows])
    series = {}
    for k in figures:
        if k in rows[0]:
            series[k] = (x, np.array([float(r[k]) for r in rows]))
            answer = TRIVIAL.get(k, ("", True))[0]
            base = (answers or {}).get(answer, {}).get(k)
            if base is not None:
                series[f"{answer}: {k}"] = (x[[0, -1]], np.array([base, base]))
    if len(x) < 2:
        return
    plot = line_plot(series, "training images seen", "held-out figure",
                     f"held-out curves ({Path(csv_path).parent.name})", size=(760, 480))
    cv2.imwrite(str(png_path), plot[..., ::-1])


def native_bfloat16():
    """True where the CPU has native bfloat16 arithmetic (AVX512_BF16 or AMX-BF16 flags)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def gan_settings(train):
    """The optimiser keyword arguments of ``VAEGAN.compile`` from a config's ``train``."""
    keys = ("learning_rate", "weight_decay", "beta_1", "d_learning_rate", "label_smoothing",
            "kl_warmup", "kl_beta")
    return {k: train[k] for k in keys if k in train}


def standard_callbacks(out_dir, preview_batch=None, curves=None):
    import keras

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cbs = [keras.callbacks.TerminateOnNaN(),
           keras.callbacks.BackupAndRestore(str(out / "backup")),
           keras.callbacks.ModelCheckpoint(str(out / "last.weights.h5"), save_weights_only=True),
           keras.callbacks.TensorBoard(str(out / "tensorboard"), write_graph=False)]
    if preview_batch is not None:
        cbs.append(ImageSummary(out / "tensorboard", preview_batch))
    if curves is not None:
        cbs.append(curves)
    return cbs


def start_run(config, strategy=None, output=None):
    """Seed everything from ``config["seed"]``, create the output directory and the strategy:
    returns ``(output_dir, strategy)``."""
    import keras

    keras.utils.set_random_seed(int(config.get("seed", 0)))
    precision = config["train"].get("precision", "float32")
    if precision == "mixed_bfloat16" and not native_bfloat16():
        print("precision: this CPU has no native bfloat16; training in float32")
        precision = "float32"
    keras.config.set_dtype_policy(precision)
    out = Path(output or config["output"])
    out.mkdir(parents=True, exist_ok=True)
    return out, make_strategy(strategy or config["train"].get("strategy", "default"))


# data.source → (module of dgpose_tf.data, loader, its keyword arguments for the training split)
LOADERS = {"h36m": ("h36m", "load_h36m_npz", {"split": "train"}),
           "deepfashion": ("deepfashion", "load_deepfashion_annotations", {}),
           "chictopiaplus": ("chictopia", "load_chictopia", {"split": "train"})}


def load_records(data):
    """The training records of a config's ``data`` naming a dataset in its official format
    (``source`` in :data:`LOADERS`; files under ``dir``, ``annotations`` inside it)."""
    import importlib

    source = data.get("source")
    if source not in LOADERS:
        raise ValueError(f"data.source must be one of {', '.join(LOADERS)} here, got {source!r}")
    if not data.get("dir"):
        raise ValueError(f"data.dir is not set: pass --data-dir with the {source} files "
                         f"(see the config's 'about')")
    root = Path(data["dir"])
    if not root.is_dir():
        raise FileNotFoundError(f"data directory not found: {root}")
    module, loader, kwargs = LOADERS[source]
    fn = getattr(importlib.import_module(f"dgpose_tf.data.{module}"), loader)
    return fn(root / data["annotations"] if data.get("annotations") else root,
              **{**kwargs, **data.get("loader_args", {})})


def training_dataset(data, batch_size, heatmaps):
    """The endless training batches a config's ``data`` section names: ``"synthetic"`` (``seed``,
    ``size``, labelled ``fraction``), ``"shards"`` (``dir`` written by ``dgpose data synth``) or
    a dataset in its official format (``"h36m"``, ``"deepfashion"``, ``"chictopiaplus"``: files
    under ``dir`` — set by ``dgpose train --data-dir`` — with ``annotations`` naming the
    annotation file inside it)."""
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
        records = load_records(data)
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
    batch = train.get("batch_size", 64)
    print(f"{config['family']}: {total} steps of batch {batch}, "
          f"labelled fraction {data.get('fraction', 1.0)}")
    curves = None
    done = _epochs_done(out) * per_epoch
    model.steps_before = done              # schedules (KL warm-up) continue where they were
    if train.get("eval_every"):
        curves = HeldOutCurves(out, int(train["eval_every"]), int(train.get("eval_n", 128)),
                               batch, step0=done)
    history = model.fit(training_dataset(data, batch, heatmaps),
                        steps_per_epoch=per_epoch, epochs=max(1, total // per_epoch),
                        callbacks=standard_callbacks(out, preview, curves))
    weights = Path(out) / f"{config['family']}.weights.h5"
    model.save_weights(str(weights))
    print(f"saved {weights}")
    return history


def _epochs_done(out):
    """Epochs a resumed run has finished (from BackupAndRestore's state), else 0."""
    state = Path(out) / "backup" / "training_metadata.json"
    try:
        return int(json.loads(state.read_text()).get("epoch", 0))
    except (OSError, ValueError):
        return 0


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
