"""Shared machinery of the families' fit logic (``dgpose_tf.fit.<family>``): configs,
strategies, callbacks, exact resume.

A config is a JSON file per zoo entry: ``name``, ``family``, ``model`` (constructor arguments),
``data``, ``train`` (steps, batch size, optimiser settings), ``seed``, ``output``. ``dgpose train
CONFIG`` loads it and runs ``dgpose_tf.fit.<family>.main(config, **options)`` — the same code
the readable scripts ``training/fit_<family>.py`` call, so an installed package trains a config
from any folder.

A run folder is resumable: ``dgpose train CONFIG`` on an existing one continues from its last
checkpoint (:mod:`dgpose_tf.fit.resume`: every model and optimizer variable, the step, the data
position; bit-identical to an uninterrupted run on one CPU process with
``train.deterministic``), ``--restart`` deletes it first. A non-finite loss stops the run naming
the step, the term and the last good checkpoint (``--on-nan rollback``: restore it with a lower
learning rate). Multi-worker runs (``--strategy multiworker``, :func:`make_strategy`) give each
worker its slice of every global batch and let only the chief write into the run folder.

Callbacks (:func:`standard_callbacks`): the run keeper, weights of the last epoch
(``last.weights.h5``), TensorBoard scalars, image summaries (inputs, reconstructions and
estimated-pose overlays), held-out curves (:class:`HeldOutCurves`: every ``train.eval_every``
steps the figures of :mod:`dgpose_tf.evaluate.dgpose` on ``train.eval_n`` people of
:data:`~dgpose_tf.evaluate.dgpose.VALIDATION_SEED`, into ``curves.csv``, TensorBoard and
``curves.png`` with the trivial answers drawn), and Keras's progress bar.

``train.precision``: ``"float32"`` (default) or ``"mixed_bfloat16"`` (Keras dtype policy: layers
compute in bfloat16, variables and losses stay float32), used only where the CPU computes
bfloat16 natively (AVX512_BF16 / AMX); elsewhere the run says so and stays in float32.
``train.beta_1``, ``train.d_learning_rate``, ``train.label_smoothing``, ``train.kl_warmup``,
``train.kl_beta``: the optimiser and loss settings of
:meth:`dgpose_tf.models.vaegan.VAEGAN.compile` (defaults: the papers'). ``train.checkpoint_every``
(default: the epoch length), ``train.keep_checkpoints`` (3), ``train.deterministic`` (false):
the run keeper's settings. ``train.threads``: TensorFlow's intra-op threads (0 = all cores; two
runs side by side on a 2-core machine use 1 each).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

__all__ = ["load_config", "make_strategy", "standard_callbacks", "ImageSummary", "HeldOutCurves",
           "run_config", "start_run", "training_dataset", "fit_and_save", "load_run",
           "gan_settings", "native_bfloat16", "fit_steps", "Run", "FAMILIES",
           "add_train_arguments", "train_options", "worker_role", "every_n_steps",
           "check_init_weights", "warm_start", "warm_start_gan"]

# the families with fit logic in this package: dgpose_tf.fit.<family>.main
FAMILIES = ("semi_dgpose", "conditional_dgpose", "pose_sequence_aegan", "vunet", "mirrornet")

_REQUIRED = ("name", "family", "model", "data", "train")


def load_config(path):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"training config not found: {path}")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(config).__name__}")
    missing = [k for k in _REQUIRED if k not in config]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}")
    check_config(config, path)
    config["_path"] = str(path.resolve())
    return config


_TOP = {"name": str, "family": str, "about": str, "model": dict, "data": dict, "train": dict,
        "seed": int, "output": str, "runs": list, "mapper": dict, "pose_warmup": dict,
        "loss": dict}
_POSITIVE = ("steps_per_epoch", "batch_size", "eval_every", "eval_n", "checkpoint_every",
             "keep_checkpoints", "critic_steps", "stop_at", "validate_every")
_COUNTS = ("kl_warmup", "warmup", "lr_decay_begin", "init_sequences", "threads")
_RATES = ("learning_rate", "d_learning_rate", "sigma_y")
_NUMBERS = ("beta_1", "beta_2", "weight_decay", "alpha", "gamma", "gp_weight", "kl_beta",
            "label_smoothing", "kl_max", "pose_consistency")
_FLAGS = ("alpha_per_pixel", "posterior_noise_ramp", "deterministic")
_TRAIN = {"steps", "precision", "strategy", "init_weights", "init_conditional", "kl_ramp",
          "loss_weights", "corruption", "freeze", "augment", "init_backbone", *_POSITIVE,
          *_COUNTS, *_RATES, *_NUMBERS, *_FLAGS}
SOURCES = ("synthetic", "shards", "h36m", "deepfashion", "chictopiaplus", "synthetic_motion",
           "npz", "lsp", "mpii", "bvh", "lspet")


def check_config(config, path="config"):
    """Named errors for keys a config should not have and values of the wrong type or range
    (a typo such as ``train.setps`` is caught before anything trains)."""
    import difflib
    import math

    def unknown(key, known, where):
        close = difflib.get_close_matches(key, sorted(known), n=1)
        raise ValueError(f"{path}: unknown key {where}{key}"
                         + (f"; did you mean {where}{close[0]}?" if close else
                            f"; known: {', '.join(sorted(known))}"))

    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    for key, value in config.items():
        if key.startswith("_"):
            continue
        if key not in _TOP:
            unknown(key, _TOP, "")
        want = _TOP[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise ValueError(f"{path}: {key} must be a {want.__name__}, got {value!r}")
    train = config["train"]
    for key, value in train.items():
        if key not in _TRAIN:
            unknown(key, _TRAIN, "train.")
        bad = None
        if key == "steps":
            zero_ok = config.get("family") == "semi_dgpose" and bool(config.get("pose_warmup"))
            ok = (isinstance(value, int) and not isinstance(value, bool)
                  and (value > 0 or (value == 0 and zero_ok))) or \
                (isinstance(value, dict) and all(isinstance(v, int) and v >= 0
                                                 for v in value.values()))
            bad = None if ok else ("a positive integer (0, no VAE-GAN steps, only for a "
                                   "Semi-DGPose stage with a pose_warmup)")
        elif key in _POSITIVE:
            bad = None if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
                else "a positive integer"
        elif key in _COUNTS:
            bad = None if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
                else "an integer ≥ 0"
        elif key in _RATES:
            bad = None if number(value) and value > 0 else "a positive number"
        elif key in _NUMBERS:
            bad = None if number(value) and value >= 0 else "a number ≥ 0"
        elif key in _FLAGS:
            bad = None if isinstance(value, bool) else "true or false"
        elif key == "precision":
            bad = None if value in ("float32", "mixed_bfloat16") else \
                "'float32' or 'mixed_bfloat16'"
        elif key == "strategy":
            bad = None if value in ("default", "mirrored", "multiworker") else \
                "'default', 'mirrored' or 'multiworker'"
        elif key == "freeze":            # sub-networks left as they are in the GAN phase
            bad = None if isinstance(value, list) and all(
                v in ("encoder", "decoder", "discriminator") for v in value) else \
                "a list of 'encoder', 'decoder', 'discriminator'"
        if bad:
            raise ValueError(f"{path}: train.{key} must be {bad}, got {value!r}")
    if "stop_at" in train and config.get("family") != "vunet":
        raise ValueError(f"{path}: train.stop_at is read by the vunet family only (its schedules "
                         f"run to train.steps); set train.steps for {config.get('family')}")
    if train.get("pose_consistency") and (config.get("family") != "semi_dgpose"
                                          or "encoder" not in train.get("freeze", [])):
        raise ValueError(f"{path}: train.pose_consistency is a Semi-DGPose option for a frozen "
                         f"encoder: it needs train.freeze to hold 'encoder' (its pose network "
                         f"judges the drawings; trained on them it would learn to read them)")
    for key in ("beta_1", "beta_2", "label_smoothing"):
        if key in train and not train[key] < 1:
            raise ValueError(f"{path}: train.{key} must be below 1, got {train[key]!r}")
    source = config["data"].get("source", "synthetic")
    if source not in SOURCES:
        raise ValueError(f"{path}: data.source must be one of {', '.join(SOURCES)}, got "
                         f"{source!r}")


def make_strategy(name="default", workers=None, worker_index=None):
    """``"default"`` (one device), ``"mirrored"`` (all local devices) or ``"multiworker"``
    (``tf.distribute.MultiWorkerMirroredStrategy``: the cluster from ``workers``, a list of
    ``HOST:PORT`` — the same list, in the same order, on every worker — and this worker's
    ``worker_index``; or, without them, the ``TF_CONFIG`` the environment already has)."""
    import tensorflow as tf

    if name in (None, "default"):
        if workers or worker_index is not None:
            raise ValueError("--workers / --worker-index need --strategy multiworker")
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if workers:
            workers = [w.strip() for w in (workers.split(",") if isinstance(workers, str)
                                           else workers) if w.strip()]
            bad = [w for w in workers if not w.rpartition(":")[2].isdigit()]
            if bad:
                raise ValueError(f"--workers wants HOST:PORT entries, got {', '.join(bad)}")
            if worker_index is None or not 0 <= int(worker_index) < len(workers):
                raise ValueError(f"--worker-index must be one of 0…{len(workers) - 1} for "
                                 f"{len(workers)} workers, got {worker_index}")
            os.environ["TF_CONFIG"] = json.dumps(
                {"cluster": {"worker": workers},
                 "task": {"type": "worker", "index": int(worker_index)}})
        elif "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multiworker needs --workers HOST:PORT,… with "
                             "--worker-index, or a TF_CONFIG in the environment")
        else:
            try:
                json.loads(os.environ["TF_CONFIG"])["cluster"]
            except (ValueError, KeyError, TypeError):
                raise ValueError("TF_CONFIG is not a JSON object with a 'cluster'") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"strategy must be 'default', 'mirrored' or 'multiworker', got {name!r}")


def worker_role(strategy):
    """``(index, count, is_chief)`` of this process in a strategy's cluster (``(0, 1, True)``
    on one machine). The chief is worker 0 (or the ``chief`` task if the cluster has one)."""
    resolver = getattr(strategy.extended, "_cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return 0, 1, True
    spec = resolver.cluster_spec().as_dict()
    count = sum(len(v) for k, v in spec.items() if k in ("chief", "worker"))
    kind, index = resolver.task_type, int(resolver.task_id or 0)
    chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in spec)
    rank = index + (1 if "chief" in spec and kind == "worker" else 0)
    return rank, count, chief


class ImageSummary:
    """Factory of a Keras callback writing image grids to TensorBoard at each epoch end: the
    input images, their reconstructions and a pose drawn on the inputs, from the model's
    ``preview(batch)`` → ``(reconstructions, joints)`` (Semi-DGPose: the estimated pose;
    Conditional-DGPose: the conditioning pose)."""

    def __new__(cls, log_dir, batch, every=1):
        import keras
        import tensorflow as tf

        from ..pose.draw import draw_skeleton, image_grid

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


def every_n_steps(every, step0, measure):
    """A Keras callback that counts training steps from ``step0`` and calls
    ``measure(model, step)`` every ``every`` of them: the held-out curves of every family."""
    import keras

    class _EveryNSteps(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.step = int(step0)

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if self.step % every == 0:
                measure(self.model, self.step)

    return _EveryNSteps()


class HeldOutCurves:
    """Factory of a Keras callback that evaluates the model every ``every`` training steps on
    ``n`` held-out people (:data:`dgpose_tf.evaluate.dgpose.VALIDATION_SEED`) with
    :func:`dgpose_tf.evaluate.dgpose.evaluate` and appends the scalar figures to
    ``<out>/curves.csv`` (with ``step`` and ``images`` seen), to TensorBoard (``heldout/…``) and
    redraws ``<out>/curves.png`` (the trivial answers as flat lines). A resumed run appends to
    the same CSV. A Semi-DGPose is its own pose model here (PCK of its reconstructions and transfers)."""

    FIGURES = ("pck@0.5", "reconstruction_masked_ssim", "reconstruction_ssim", "transfer_ssim",
               "transfer_masked_ssim")

    def __new__(cls, out_dir, every, n=128, batch_size=1, step0=0):
        import tensorflow as tf

        from ..evaluate import dgpose as ev

        data = ev.synthetic_test_set(n, ev.VALIDATION_SEED)
        out = Path(out_dir)
        path = out / "curves.csv"

        writer = tf.summary.create_file_writer(str(out / "tensorboard" / "heldout"))
        answers = []                    # the trivial answers, computed at the first measure

        def measure(model, step):
            pose_model = model if hasattr(model, "estimate_pose") else None
            if not answers:
                answers.append(ev.trivial_answers(data, pose_model))
            res = ev.evaluate(model, data=data, seed=ev.VALIDATION_SEED,
                              pose_model=pose_model, answers=answers[0])
            row = {"step": step, "images": step * batch_size,
                   **{k: v for k, v in res.items() if isinstance(v, float)}}
            append_row(path, row)
            with writer.as_default():
                for k, v in row.items():
                    if k not in ("step", "images"):
                        tf.summary.scalar(f"heldout/{k}", v, step=step)
            writer.flush()
            draw_curves(path, out / "curves.png", res["trivial"])
            shown = ", ".join(f"{k} {row[k]:.3f}" for k in HeldOutCurves.FIGURES if k in row)
            print(f"\nheld-out @ step {step}: {shown}")

        return every_n_steps(every, step0, measure)


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

    from ..evaluate.dgpose import TRIVIAL
    from ..pose.draw import line_plot

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
    """Weights of the last epoch, TensorBoard, image summaries and held-out curves (the run
    keeper comes first, from :func:`fit_steps`)."""
    import keras

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cbs = [keras.callbacks.ModelCheckpoint(str(out / "last.weights.h5"), save_weights_only=True),
           keras.callbacks.TensorBoard(str(out / "tensorboard"), write_graph=False)]
    if preview_batch is not None:
        cbs.append(ImageSummary(out / "tensorboard", preview_batch))
    if curves is not None:
        cbs.append(curves)
    return cbs


class Run:
    """What :func:`start_run` set up: ``out`` (the folder this process writes: the run folder,
    or a temporary one on a non-chief worker), ``folder`` (the run folder), ``strategy``,
    ``worker`` / ``workers`` / ``chief``, ``on_nan``."""

    def __init__(self, out, folder, strategy, worker, workers, chief, on_nan):
        self.out, self.folder, self.strategy = out, folder, strategy
        self.worker, self.workers, self.chief, self.on_nan = worker, workers, chief, on_nan

    def __iter__(self):                 # out, strategy = start_run(...)
        return iter((self.out, self.strategy))


def start_run(config, strategy=None, output=None, workers=None, worker_index=None,
              on_nan="stop", restart=False):
    """The strategy (first: a multi-worker cluster must exist before anything else touches
    TensorFlow), the seeds, the precision policy and the output folder: a :class:`Run`.
    ``restart``: delete an existing run folder first (and say so)."""
    import keras
    import tensorflow as tf

    train = config["train"]
    threads = int(train.get("threads", 0))
    if threads:             # before anything runs: TensorFlow fixes its thread pools then
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    strat = make_strategy(strategy or train.get("strategy", "default"), workers, worker_index)
    worker, count, chief = worker_role(strat)
    if train.get("deterministic"):
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(int(config.get("seed", 0)))
    precision = train.get("precision", "float32")
    if precision == "mixed_bfloat16" and not native_bfloat16():
        print("precision: this CPU has no native bfloat16; training in float32")
        precision = "float32"
    keras.config.set_dtype_policy(precision)
    folder = Path(output or config["output"])
    if restart and chief and folder.exists():
        shutil.rmtree(folder)
        print(f"--restart: deleted the previous run in {folder}")
    if chief:
        _writable(folder)
        _same_model(folder, config)
        out = folder
    else:                               # TensorFlow wants every worker to save; not here
        import atexit
        import tempfile
        out = Path(tempfile.mkdtemp(prefix=f"dgpose-worker{worker}-"))
        atexit.register(shutil.rmtree, out, True)
    if count > 1:
        print(f"worker {worker} of {count}{' (chief)' if chief else ''}: writing to {out}")
    return Run(out, folder, strat, worker, count, chief, on_nan)


def _writable(folder):
    """Create the run folder, or say why it cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise PermissionError(f"cannot write the run folder {folder} ({exc.strerror or exc}): "
                              "pass --output with a folder you can write") from None


def _same_model(folder, config):
    """A run folder holding another model's run is not resumed into this config."""
    saved = folder / "config.json"
    if not saved.is_file():
        return
    try:
        old = json.loads(saved.read_text())
    except ValueError:
        return
    if (folder / "backup").is_dir() and not (folder / "checkpoints").is_dir():
        raise ValueError(f"{folder} is a run of an earlier dgpose_tf (an epoch backup, without "
                         "the optimizers' states): it cannot be resumed exactly. Pass --restart "
                         "to start it over, or --output for a new folder (its weights stay "
                         "usable: dgpose evaluate / zoo register)")
    for key in ("family", "model"):
        if old.get(key) != config.get(key):
            raise ValueError(f"{folder} holds a run of another {key} ({old.get(key)!r}, this "
                             f"config: {config.get(key)!r}); pass --restart to replace it or "
                             "--output for a new folder")


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


def training_dataset(data, batch_size, heatmaps, start=0, worker=0, workers=1):
    """The endless training batches a config's ``data`` section names, from step ``start`` on
    (the data position of a resumed run): ``"synthetic"`` (``seed``, ``size``, labelled
    ``fraction``), ``"shards"`` (``dir`` written by ``dgpose data synth``) or a dataset in its
    official format (``"h36m"``, ``"deepfashion"``, ``"chictopiaplus"``: files under ``dir`` —
    set by ``dgpose train --data-dir`` — with ``annotations`` naming the annotation file inside
    it). ``batch_size`` is the global batch; with ``workers`` > 1, synthetic batches are this
    worker's slice of each global batch (worker ``w`` renders people ``w·b … (w+1)·b − 1`` of
    every global batch of ``workers·b``: the people a one-process run sees, none twice)."""
    from ..data import pipeline

    source = data.get("source", "synthetic")
    fraction = data.get("fraction", 1.0)
    if source == "synthetic":
        if batch_size % workers:
            raise ValueError(f"train.batch_size {batch_size} is not divisible by the "
                             f"{workers} workers")
        local = batch_size // workers
        return pipeline.synthetic_dataset(None, local, data.get("size", 64),
                                          data.get("seed", 0), fraction=fraction,
                                          heatmaps=heatmaps,
                                          start=int(start) * batch_size + worker * local,
                                          stride=batch_size)
    if source == "shards":
        return pipeline.shard_dataset(data["dir"], batch_size, fraction, heatmaps=heatmaps,
                                      shuffle=4096).repeat().skip(int(start))
    if source in LOADERS:
        records = load_records(data)
        return pipeline.records_dataset(records, batch_size, data.get("size", 64), fraction,
                                        data.get("normalise", "tanh"), heatmaps,
                                        cache=data.get("cache")).repeat().skip(int(start))
    raise ValueError(f"data.source must be 'synthetic', 'shards' or one of "
                     f"{', '.join(LOADERS)}; got {source!r}")


def distributed(run, make):
    """``make(start, worker, workers)`` → the dataset a strategy feeds ``model.fit``: as it is
    on one worker; on several, each worker's own slice (``distribute_datasets_from_function``,
    no auto-sharding: the slices are already disjoint)."""
    if run.workers <= 1:
        return make(0, 1)
    import tensorflow as tf

    def per_worker(ctx):
        ds = make(ctx.input_pipeline_id, ctx.num_input_pipelines)
        opts = tf.data.Options()
        opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return ds.with_options(opts)

    return run.strategy.distribute_datasets_from_function(per_worker)


def fit_steps(model, config, run, make_dataset, total, per_epoch, callbacks=(), batch=None):
    """``model.fit`` from the run folder's last checkpoint to step ``total`` with the run
    keeper first (:mod:`dgpose_tf.fit.resume`). ``make_dataset(start, worker, workers)``: the
    training batches from step ``start`` on (this worker's slice). Returns the Keras history
    (None if the run had already finished)."""
    from .resume import RunKeeper

    train = config["train"]
    batch = int(batch or train.get("batch_size", 64))
    keeper = RunKeeper(run.folder, model, total, per_epoch, train.get("checkpoint_every"),
                       train.get("keep_checkpoints", 3), int(config.get("seed", 0)),
                       on_nan=run.on_nan, global_batch=batch, chief=run.chief, scratch=run.out)
    step = keeper.restore()
    if step >= total:
        print(f"{run.folder}: already trained to step {step} of {total}; nothing to do "
              "(--restart starts over, --steps N trains further)")
        return None
    if step:
        print(f"resuming {run.folder} at step {step} of {total} from {keeper.latest} "
              f"({step * batch} images seen)")
    epoch0 = step // per_epoch
    data = distributed(run, lambda w, n: make_dataset(step, w, n))
    import contextlib

    scope = contextlib.nullcontext()
    if run.workers > 1:
        # Keras 3.15 builds a model created under a strategy from a first batch it averages
        # with strategy.reduce, which MultiWorkerMirroredStrategy cannot do for a dict batch.
        # Our models are built at compile, so fit finds the strategy from the scope instead.
        model._distribute_strategy = None
        scope = run.strategy.scope()
        # Its mean of the logs across workers reduces along axis 0, which a scalar lacks: the
        # step hands them over as (1,) tensors and they come back as global scalars.
        step_fn = type(model).train_step
        model.train_step = lambda batch: {k: v[None] for k, v in step_fn(model, batch).items()}
    with scope:
        return model.fit(data, steps_per_epoch=per_epoch, initial_epoch=epoch0, shuffle=False,
                         epochs=epoch0 + -(-(total - step) // per_epoch) + 1,
                         callbacks=[keeper, *callbacks])


def check_init_weights(train):
    """A warm start's file (``train.init_weights``, Semi-DGPose's ``train.init_conditional``)
    must exist before a run writes anything."""
    for key in ("init_weights", "init_conditional"):
        path = train.get(key)
        if path and not Path(path).is_file():
            raise FileNotFoundError(f"train.{key} {path} not found: a later stage starts "
                                    "from an earlier run's weights (train that config first)")


def warm_start(model, train, folder):
    """Load ``train.init_weights`` into the model of a fresh run (a resumed run has its own
    checkpoint). True if it did."""
    if not train.get("init_weights") or _steps_done(folder):
        return False
    load = getattr(model, "load_warm_start", model.load_weights)   # a model may grow a file
    load(str(train["init_weights"]))
    print(f"warm start from {train['init_weights']}")
    return True


def warm_start_gan(model, train, folder):
    """:func:`warm_start` for the VAE-GAN families, then this config's learning rates (not the
    loaded optimisers') and, when the model has ``sigma_init``, the σ heads restarted there
    (:meth:`~dgpose_tf.models.semi_dgpose.Encoder.reset_sigma`)."""
    if not warm_start(model, train, folder):
        return False
    settings = gan_settings(train)
    lr = float(settings.get("learning_rate", 1e-4))
    model.optimizer.learning_rate = lr
    model.d_optimizer.learning_rate = float(settings.get("d_learning_rate", lr))
    if getattr(model, "sigma_init", None):
        model.encoder.reset_sigma(model.sigma_init)
        print(f"posterior scales restarted at sigma {model.sigma_init:g}")
    return True


def fit_and_save(model, config, run, steps=None, heatmaps=True):
    """The VAE-GAN families' training: :func:`fit_steps` for ``train.steps`` steps (epochs of
    ``train.steps_per_epoch``) with the standard callbacks, then ``<out>/<family>.weights.h5``
    and ``<out>/config.json``."""
    from ..data import pipeline

    out = run.out
    train, data = config["train"], config["data"]
    total = int(steps or train["steps"])
    weights = Path(out) / f"{config['family']}.weights.h5"
    saved = {k: v for k, v in config.items() if not k.startswith("_")}
    if total == 0:                # a stage that only trains a head in an earlier phase
        (Path(out) / "config.json").write_text(json.dumps(saved, indent=1))
        model.save_weights(str(weights))
        print(f"{config['family']}: train.steps is 0, no VAE-GAN steps; saved {weights}")
        return None
    per_epoch = int(min(total, train.get("steps_per_epoch", 500)))
    preview = next(iter(pipeline.synthetic_dataset(16, 16, seed=10_000 + data.get("seed", 0))))
    (Path(out) / "config.json").write_text(json.dumps(saved, indent=1))
    batch = train.get("batch_size", 64)
    print(f"{config['family']}: {total} steps of batch {batch}"
          + (f" ({batch // run.workers} on each of {run.workers} workers)"
             if run.workers > 1 else "") + f", labelled fraction {data.get('fraction', 1.0)}")
    curves = None
    if train.get("eval_every"):
        curves = HeldOutCurves(out, int(train["eval_every"]), int(train.get("eval_n", 128)),
                               batch, step0=_steps_done(run.folder))
    history = fit_steps(
        model, config, run,
        lambda start, w, n: training_dataset(data, batch, heatmaps, start, w, n),
        total, per_epoch, standard_callbacks(out, preview, curves))
    model.save_weights(str(weights))
    print(f"saved {weights}")
    return history


def _steps_done(folder):
    """The step of a run folder's latest checkpoint (0 if none): where held-out curves go on."""
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(Path(folder) / "checkpoints"))
    return int(latest.rsplit("-", 1)[1]) if latest else 0


def load_run(path):
    """``(model, config)`` of a finished training run: a directory holding ``config.json`` and
    ``<family>.weights.h5`` (or ``last.weights.h5`` of an unfinished run), or one of those
    weights files with ``config.json`` beside it."""
    from ..models import build_model

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


def add_train_arguments(parser):
    """The options of ``dgpose train`` and of the scripts ``training/fit_<family>.py``."""
    parser.add_argument("config", help="training/configs/<entry>.json (or your own copy)")
    parser.add_argument("--steps", type=int, help="override train.steps")
    parser.add_argument("--output", help="override the config's output folder")
    parser.add_argument("--data-dir", help="folder of the dataset's files (real data sets)")
    parser.add_argument("--restart", action="store_true",
                        help="delete an existing run folder first (default: resume it)")
    parser.add_argument("--on-nan", choices=("stop", "rollback"), default=None,
                        help="on a non-finite loss: stop (default) naming the last good "
                             "checkpoint, or roll back to it with half the learning rate")
    parser.add_argument("--strategy", choices=("default", "mirrored", "multiworker"))
    parser.add_argument("--workers", help="multiworker: HOST:PORT,HOST:PORT,… (the same list on "
                                          "every worker; default: $TF_CONFIG)")
    parser.add_argument("--worker-index", type=int, help="multiworker: this worker's position "
                                                         "in --workers (0 is the chief)")
    return parser


def train_options(args):
    """``run_config`` keyword arguments from parsed :func:`add_train_arguments` options."""
    return {"data_dir": args.data_dir, "steps": args.steps, "strategy": args.strategy,
            "output": args.output, "workers": args.workers, "worker_index": args.worker_index,
            "on_nan": args.on_nan, "restart": args.restart or None}


def script_main(family, argv=None):
    """``python training/fit_<family>.py CONFIG.json [options]``: what ``dgpose train`` does,
    for a config of that family."""
    import argparse

    parser = add_train_arguments(argparse.ArgumentParser(
        prog=f"fit_{family}.py", description=f"train a {family} config"))
    args = parser.parse_args(argv)
    config = load_config(args.config)
    if config["family"] != family:
        parser.error(f"{args.config} is a {config['family']} config; use "
                     f"training/fit_{config['family']}.py or dgpose train")
    return run_config(args.config, **train_options(args))


def run_config(path, data_dir=None, **options):
    """Run a config's family (``dgpose_tf.fit.<family>.main``); ``data_dir`` sets ``data.dir``
    (the dataset's files); ``options``: ``steps``, ``strategy``, ``output``, ``workers``,
    ``worker_index``, ``on_nan``, ``restart`` (each family takes those it supports)."""
    config = load_config(path)
    if data_dir is not None:
        config["data"]["dir"] = str(data_dir)
    family = config["family"]
    if family not in FAMILIES:
        raise ValueError(f"{path}: unknown family {family!r}; the families that train are "
                         f"{', '.join(FAMILIES)}")
    module = importlib.import_module(f"{__name__}.{family}")
    return module.main(config, **{k: v for k, v in options.items() if v is not None})
