"""Fit Semi-DGPose from a config, in phases (each skipped when its file exists, so a killed run
resumes where it stopped):

1. the Mapper (offline, L2 to ground-truth heatmaps; paper §3) → ``mapper.weights.h5``, with its
   held-out L2 every epoch in ``mapper_curve.csv`` and a sheet ``mapper_sheet.png`` (true vs
   mapped heatmaps of held-out people);
2. optionally (``pose_warmup``; a CPU-recipe step the paper does not have) the encoder's pose head
   regressed onto the labelled samples alone → ``pose_warmup.weights.h5``;
3. the full semi-supervised VAE-GAN with the Mapper frozen (paper §3, §4), with held-out curves.

    dgpose train training/configs/<entry>.json [--steps N] [--strategy mirrored] [--output DIR]
    python training/fit_semi_dgpose.py training/configs/<entry>.json

Config keys: ``model`` (SemiDGPose arguments, e.g. ``{"width": 0.125, "mapper_width": 0.5}``);
``data`` (``source``: "synthetic" with ``seed`` and ``fraction`` labelled, or "shards" with
``dir``); ``mapper`` (``steps``, ``steps_per_epoch``, ``batch_size``, ``learning_rate``,
``loss``: "l2" (the paper's) or "bce" (:class:`~dgpose_tf.models.semi_dgpose.MapperTrainer`),
``then``: further phases continuing the Mapper (:func:`mapper_phases`), ``from``: a Mapper
weights file to reuse instead of training one); ``pose_warmup`` (``steps``, ``batch_size``,
``learning_rate``, ``decay_to``: a cosine decay of the rate to this fraction of it by the last
step, ``map_weight`` / ``map_sigma``: the pose network's map loss
(:class:`~dgpose_tf.models.semi_dgpose.PoseTrainer`), ``freeze_trunk``: layers 1–10 left as they
are — a new pose head on a warm start's trunk; run after ``init_weights`` too); ``train``
(``steps`` — 0 for a stage that only trains a pose head —, ``steps_per_epoch``, ``batch_size``,
``learning_rate``, ``beta_1``, ``d_learning_rate``, ``label_smoothing``, ``weight_decay``,
``alpha``, ``alpha_per_pixel``, ``gamma``, ``precision``, ``eval_every``, ``eval_n``,
``strategy``, ``init_weights``: a ``semi_dgpose.weights.h5`` of an earlier stage to start from
instead of phases 1 and 2, as :mod:`dgpose_tf.fit.conditional_dgpose`'s; ``init_conditional``: a
Conditional-DGPose ``.weights.h5`` of the same width to start the VAE-GAN from instead of phase 2,
see :func:`start_from_conditional`; ``sigma_y``: q(y|x)'s σ head restarted at this constant
before the VAE-GAN phase (with a frozen encoder the samples of y given to the decoder for
unlabelled images then stay that close to the estimate); ``freeze``: sub-networks — "encoder",
"decoder", "discriminator" — left as they are in the VAE-GAN phase); ``pose_consistency``: the
weight of the pose network's loss on drawings in another sample's pose (0, off, is the paper's;
:meth:`~dgpose_tf.models.semi_dgpose.SemiDGPose.compile`); ``seed``; ``output``.
Writes ``<output>/semi_dgpose.weights.h5``, ``config.json``, ``curves.csv`` / ``curves.png`` and
TensorBoard logs.
"""

from __future__ import annotations

import shutil

import numpy as np


def _mapper_heldout(mapper, n=256):
    """Held-out L2 of the Mapper (mean squared heatmap error, validation people) and the data."""
    from ..data import pipeline
    from ..evaluate.dgpose import VALIDATION_SEED

    val = next(iter(pipeline.synthetic_dataset(n, n, seed=VALIDATION_SEED)))
    pred = mapper(val["pose_vector"], training=False).numpy()
    return float(np.mean(np.square(pred - val["heatmaps"].numpy()))), val, pred


def mapper_sheet(path, val, pred, k=8):
    """Rows of held-out people: image, true heatmaps (max over channels), mapped heatmaps."""
    import cv2

    from ..evaluate.dgpose import to_uint8
    from ..pose.draw import heatmap_overlay, image_grid

    img = to_uint8(val["image"][:k].numpy())
    true = val["heatmaps"][:k].numpy()
    tiles = []
    for i in range(k):
        tiles += [img[i], heatmap_overlay(np.zeros_like(img[i]), true[i], 1.0),
                  heatmap_overlay(np.zeros_like(img[i]), pred[i], 1.0)]
    grid = image_grid(np.stack([cv2.resize(t, (128, 128), interpolation=cv2.INTER_NEAREST)
                                for t in tiles]), cols=6)
    cv2.imwrite(str(path), grid[..., ::-1])


def mapper_phases(mcfg, train):
    """The Mapper's training phases: ``mapper`` itself, then each entry of ``mapper.then`` (a list
    of dicts overriding ``steps``, ``learning_rate`` and ``loss``; batch size and epoch length
    are ``mapper``'s), continuing the same network with a fresh Adam."""
    first = {"steps": int(mcfg.get("steps", 2000)), "loss": mcfg.get("loss", "l2"),
             "learning_rate": mcfg.get("learning_rate", train.get("learning_rate", 1e-4))}
    phases = [first]
    for extra in mcfg.get("then", []):
        unknown = set(extra) - set(first)
        if unknown:
            raise ValueError(f"mapper.then: unknown key(s) {sorted(unknown)}; a phase sets "
                             f"{', '.join(first)}")
        phases.append({**first, **extra, "steps": int(extra.get("steps", first["steps"]))})
    return phases


def fit_mapper(model, config, out, strat):
    """Phase 1: the Mapper alone (or reuse ``mapper.from``), then frozen."""
    import keras

    from . import training_dataset
    from ..models.semi_dgpose import MapperTrainer

    mcfg, train = config.get("mapper", {}), config["train"]
    mapper_file = out / "mapper.weights.h5"
    if not mapper_file.exists() and mcfg.get("from"):
        shutil.copy(mcfg["from"], mapper_file)
        print(f"mapper: copied {mcfg['from']}")
    if mapper_file.exists():
        model.mapper.load_weights(str(mapper_file))
        print(f"mapper: loaded {mapper_file}")
        return
    log = out / "mapper_curve.csv"
    log.write_text("step,loss,train_loss,heldout_l2\n")
    data = training_dataset(config["data"], mcfg.get("batch_size", 64), True)
    done = 0
    for phase in mapper_phases(mcfg, train):
        with strat.scope():
            model.mapper.trainable = True
            trainer = MapperTrainer(model.mapper, weight_decay=train.get("weight_decay", 5e-4),
                                    loss=phase["loss"])
            trainer.compile(optimizer=keras.optimizers.Adam(phase["learning_rate"]))
        m_steps = phase["steps"]
        m_epoch = int(min(m_steps, mcfg.get("steps_per_epoch", 500)))

        class HeldOut(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None, start=done, m_epoch=m_epoch,
                             kind=phase["loss"]):
                l2 = _mapper_heldout(model.mapper)[0]
                step = start + (epoch + 1) * m_epoch
                with log.open("a") as f:
                    f.write(f"{step},{kind},{logs['loss']:.6f},{l2:.6f}\n")
                print(f"\nmapper held-out L2 after {step} steps: {l2:.5f}")

        print(f"mapper: {m_steps} steps of batch {mcfg.get('batch_size', 64)}, {phase['loss']} "
              f"loss, lr {phase['learning_rate']:g}")
        trainer.fit(data, shuffle=False, steps_per_epoch=m_epoch, epochs=max(1, m_steps // m_epoch),
                    callbacks=[keras.callbacks.TerminateOnNaN(), HeldOut()])
        done += max(1, m_steps // m_epoch) * m_epoch
    model.mapper.trainable = False
    l2, val, pred = _mapper_heldout(model.mapper)
    mapper_sheet(out / "mapper_sheet.png", val, pred)
    print(f"mapper: held-out L2 {l2:.5f} (all-zero heatmaps: "
          f"{float(np.mean(np.square(val['heatmaps'].numpy()))):.5f})")
    model.mapper.save_weights(str(mapper_file))


def warm_start_pose(model, config, out, strat):
    """Phase 2 (optional): the pose head on the labelled samples alone."""
    import keras

    from . import training_dataset
    from ..models.semi_dgpose import PoseTrainer

    wcfg = config.get("pose_warmup")
    if not wcfg:
        return
    done = out / "pose_warmup.weights.h5"
    if done.exists():
        model.encoder.load_weights(str(done))
        print(f"pose warm start: loaded {done}")
        return
    frozen = model.encoder.blocks if wcfg.get("freeze_trunk") else []
    for block in frozen:                  # BN of a frozen block runs in inference mode
        block.trainable = False
    with strat.scope():
        trainer = PoseTrainer(model.encoder, config["train"].get("weight_decay", 5e-4),
                              map_weight=wcfg.get("map_weight", 0.0),
                              map_sigma=wcfg.get("map_sigma", 1.0))
        steps = int(wcfg.get("steps", 5000))
        lr = float(wcfg.get("learning_rate", 1e-3))
        if wcfg.get("decay_to") is not None:        # cosine decay to lr · decay_to at the end
            lr = keras.optimizers.schedules.CosineDecay(lr, steps, alpha=float(wcfg["decay_to"]))
        trainer.compile(optimizer=keras.optimizers.Adam(lr))
    per_epoch = int(min(steps, wcfg.get("steps_per_epoch", 1000)))
    print(f"pose warm start: {steps} steps of batch {wcfg.get('batch_size', 64)} "
          f"(labelled samples only{'; layers 1-10 frozen' if frozen else ''})")
    curve = _PoseCurve(model, out / "pose_warmup_curve.csv")
    trainer.fit(training_dataset(config["data"], wcfg.get("batch_size", 64), False),
                shuffle=False, steps_per_epoch=per_epoch, epochs=max(1, steps // per_epoch),
                callbacks=[keras.callbacks.TerminateOnNaN(), curve])
    for block in frozen:
        block.trainable = True
    model.encoder.save_weights(str(done))


class _PoseCurve:
    """Held-out PCK@0.5 of the pose head after every epoch of the pose phase (a CSV)."""

    def __new__(cls, model, path, n=256):
        import keras

        from ..evaluate import dgpose as ev

        data = ev.synthetic_test_set(n, ev.VALIDATION_SEED)

        class Curve(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                path.write_text("step,pck@0.5\n")

            def on_epoch_end(self, epoch, logs=None):
                pck = ev.pck_of(model.estimate_pose, data)
                step = int(self.model.optimizer.iterations.numpy())
                with path.open("a") as f:
                    f.write(f"{step},{pck:.4f}\n")
                print(f"  pose phase step {step}: held-out PCK@0.5 {pck:.3f}")

        return Curve()


def start_from_conditional(model, path):
    """A CPU-recipe warm start (not in the paper): a fresh Semi-DGPose takes a trained
    Conditional-DGPose's encoder trunk, z heads, decoder and discriminator; its pose heads start
    fresh. Conditional-DGPose's first convolution also sees the 24 heatmaps: only its kernel over
    the three image channels is taken. Measured: from the pose warm start (phase 2) the shared
    width-1/8 trunk — a 64-number feature — gave its capacity to the pose regression and lost the
    image's colour (a linear probe from it to the mean colour scored held-out R² −0.20, the
    Conditional-DGPose trunk's 0.63), and the decoder, fed an appearance code without colour, drew
    flat grey; started here, the code carries colour from step 0 and the pose head learns on top.
    """
    from ..models.conditional_dgpose import ConditionalDGPose

    donor = ConditionalDGPose(width=model.width)
    donor.build()
    donor.load_weights(str(path))
    theirs = {w.path.split("/", 1)[1]: w for w in donor.encoder.weights}
    taken = 0
    for v in model.encoder.weights:
        w = theirs.get(v.path.split("/", 1)[1])
        if w is None:                             # the pose heads
            continue
        w = w.numpy()
        if w.shape != tuple(v.shape):             # conv1: (7, 7, 3 + 24, C) → the image's 3
            w = w[:, :, :v.shape[2], :]
        v.assign(w)
        taken += 1
    for part in ("decoder", "discriminator"):
        for v, w in zip(getattr(model, part).weights, getattr(donor, part).weights):
            v.assign(w)
    if model.sigma_init:
        model.encoder.reset_sigma(model.sigma_init)
    print(f"started from Conditional-DGPose {path}: {taken} of {len(model.encoder.weights)} "
          "encoder variables (all but the pose heads), the decoder and the discriminator")


def main(config, steps=None, strategy=None, output=None, **run_options):
    """``run_options``: ``workers``, ``worker_index``, ``on_nan``, ``restart`` (:func:`~dgpose_tf.fit.start_run`)."""
    from . import _steps_done, check_init_weights, fit_and_save, gan_settings, start_run, \
        warm_start_gan
    from ..models.semi_dgpose import SemiDGPose

    train = config["train"]
    check_init_weights(train)
    run = start_run(config, strategy, output, **run_options)
    out, strat = run
    with strat.scope():
        model = SemiDGPose(**config["model"])
        model.compile(alpha=train.get("alpha", 100.0), gamma=train.get("gamma", 1.0),
                      alpha_per_pixel=train.get("alpha_per_pixel", False),
                      pose_consistency=train.get("pose_consistency", 0.0), **gan_settings(train))
        warm_start_gan(model, train, run.folder)
        if train.get("init_conditional") and not _steps_done(run.folder):
            start_from_conditional(model, train["init_conditional"])
    if not train.get("init_weights"):      # a warm start's file holds the Mapper and the encoder
        fit_mapper(model, config, out, strat)
        if not train.get("init_conditional"):
            warm_start_pose(model, config, out, strat)
    elif config.get("pose_warmup"):         # e.g. a new pose head on a warm start's trunk
        warm_start_pose(model, config, out, strat)
    if train.get("sigma_y"):                # before a checkpoint of this run restores its own
        model.encoder.reset_sigma(train["sigma_y"], [model.encoder.sigma_y])
        print(f"q(y|x)'s scale restarted at sigma {train['sigma_y']:g}")
    for part in train.get("freeze", ()):
        getattr(model, part).trainable = False
    if train.get("freeze"):
        print(f"frozen in the VAE-GAN phase: {', '.join(train['freeze'])}")
    history = fit_and_save(model, config, run, steps, heatmaps=False)
    return model, history

