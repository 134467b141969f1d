"""Fit the pose-sequence AE-GAN from a config: WGAN-GP critic + generator/encoder with the
autoencoder and mixed objectives, the encoder fed corrupted sequences (thesis §4.3–4.6).

    dgpose train training/configs/pose_sequence_aegan_synthetic.json
    python training/fit_pose_sequence_aegan.py training/configs/<entry>.json

Config keys: ``model`` (PoseSequenceAEGAN arguments: ``critic_norm``, ``critic_sigmoid``,
``encoder_sigmoid``); ``data``: ``source`` ``"synthetic_motion"`` (``seed``, ``sequences`` — the
number of procedural 3-D sequences whose per-window projections and mirror images form the pool,
``fps``), ``"bvh"`` (real motion capture under ``dir``, set by ``--data-dir``: ``files`` glob
patterns, ``exclude``, ``validation`` — patterns of held-out clips for the learning curves —,
``fps``, ``shift``, ``views`` cameras per window, ``seed``, and ``sequences`` of procedural
motion mixed in; :mod:`dgpose_tf.data.mocap`) or ``"npz"`` (``path`` to an npz with ``poses``
(N, 24, 28, 2) windows already normalised as §7.1.1, e.g. made from MPI-INF-3DHP with ``dgpose_tf.data.mpi_inf_3dhp``);
``train``: ``steps``, ``steps_per_epoch``, ``batch_size``, ``learning_rate``, ``beta_1``,
``beta_2``, ``gp_weight``, ``critic_steps``, ``loss_weights``, ``corruption``, ``eval_every``,
``init_weights`` (start from another run's ``last.weights.h5`` — a warm start; the three
optimisers' states come along, since Keras saves a compiled model's optimisers with its
weights) and ``init_sequences`` (the sequences that run had seen, so the learning
curves continue on the same axis);
``seed``; ``output``. Writes ``<output>/pose_sequence_aegan.weights.h5``, ``config.json``,
TensorBoard logs (D/G/E losses and held-out figures), ``curves.csv`` / ``curves.png`` (held-out
figures next to their trivial answers, :mod:`dgpose_tf.evaluate.pose_sequence_aegan`) and
``losses.csv`` / ``losses.png`` (the D/G/E training losses per epoch).
"""

from __future__ import annotations


def main(config, steps=None, strategy=None, output=None, **run_options):
    """``run_options``: ``workers``, ``worker_index``, ``on_nan``, ``restart``."""
    import json
    from pathlib import Path

    import numpy as np
    import tensorflow as tf

    from ..evaluate import pose_sequence_aegan as es
    from . import _steps_done, check_init_weights, fit_steps, standard_callbacks, start_run, \
        warm_start
    from ..models.pose_sequence_aegan import PoseSequenceAEGAN

    check_init_weights(config["train"])
    run = start_run(config, strategy, output, **run_options)
    out, strat = run
    train, data = config["train"], config["data"]
    pool = es.training_pool(data, cache=out / "pool.npy")
    total = int(steps or train["steps"])
    per_epoch = int(min(total, train.get("steps_per_epoch", 250)))
    batch = int(train.get("batch_size", 256))
    keys = ("learning_rate", "beta_1", "beta_2", "gp_weight", "critic_steps", "loss_weights",
            "corruption")
    with strat.scope():
        model = PoseSequenceAEGAN(**config["model"])
        model.compile(**{k: train[k] for k in keys if k in train})
        if warm_start(model, train, run.folder):
            lr = float(train.get("learning_rate", 1e-4))
            for opt in (model.g_optimizer, model.e_optimizer, model.d_optimizer):
                opt.learning_rate = lr         # this config's rate, not the loaded one
    saved = {k: v for k, v in config.items() if not k.startswith("_")}
    (out / "config.json").write_text(json.dumps(saved, indent=1))
    print(f"pose_sequence_aegan: {total} steps of batch {batch} from a pool of {len(pool)} "
          f"windows")
    if batch % run.workers:
        raise ValueError(f"train.batch_size {batch} is not divisible by the {run.workers} "
                         "workers")

    def windows(start, worker, workers):
        """The shuffled pool from step ``start`` on; this worker's part of each global batch."""
        ds = (tf.data.Dataset.from_tensor_slices({"poses": pool})
              .shuffle(min(len(pool), 200_000), seed=int(config.get("seed", 0)))
              .repeat().batch(batch, drop_remainder=True).skip(start))
        if workers > 1:
            local = batch // workers
            ds = ds.map(lambda b: {"poses": b["poses"][worker * local:(worker + 1) * local]})
        return ds.prefetch(2)

    done = _steps_done(run.folder)
    callbacks = standard_callbacks(out)
    if train.get("eval_every"):
        val = None
        if data.get("validation"):                # held-out clips of the same sources
            val_cache = out / "validation_pool.npy"
            if val_cache.is_file():
                val = np.load(val_cache)
            else:
                val = es.mocap_windows({**data, "seed": 1}, data["validation"])
                np.save(val_cache, val)
        callbacks.append(es.HeldOutSequenceCurves(out, int(train["eval_every"]), pool,
                                                  batch_size=batch, step0=done,
                                                  sequences0=int(train.get("init_sequences", 0)),
                                                  val=val))
    callbacks.append(es.LossCurves(out, batch))
    fit_steps(model, config, run, windows, total, per_epoch, callbacks, batch)
    weights = Path(out) / "pose_sequence_aegan.weights.h5"
    model.save_weights(str(weights))
    print(f"saved {weights}")
    return model

