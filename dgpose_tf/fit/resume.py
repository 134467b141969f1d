"""Exact resume and NaN safety of the Keras-fit families (:class:`RunKeeper`).

One checkpoint per save (``<run>/checkpoints/ckpt-<step>``, ``tf.train.CheckpointManager``,
the last ``train.keep_checkpoints`` kept) holds every variable of the model (weights, BatchNorm
statistics, seed-generator states, step counters), **every optimizer's** state (a VAE-GAN's
generator and discriminator Adams, the AE-GAN's three), the step and the data position
(images seen). It is written every ``train.checkpoint_every`` steps (default: the epoch
length), at each epoch end and at the last step. TensorFlow writes the files under a temporary
name and only then points the ``checkpoint`` state file at them, atomically: a run killed while
writing still resumes from the previous checkpoint.

The random stream does not survive a restart by itself (a stateful random op restarts its
stream when the step function is traced again), so at every checkpoint the keeper reseeds
Python, NumPy and TensorFlow from ``(seed, step)`` and retraces the step function — in an
uninterrupted run exactly as in a resumed one. Models whose training noise is stateless,
keyed by the optimizer's step (``stateless_noise``: the VAE-GANs), skip the retrace. Together with the data position (the synthetic
sources render person ``i`` from the seed and ``i`` alone) a resumed run is the run that would
have been: bit-identical on one CPU process with ``train.deterministic`` (TensorFlow's op
determinism; the kill-and-resume test checks it).

Every step the keeper checks that the logged losses (and the gradient norms the VAE-GANs log)
are finite. A non-finite value stops the run with :class:`NonFiniteLossError`, naming the step,
the terms and the last good checkpoint (written before the failure, so intact). With
``on_nan="rollback"`` (``dgpose train --on-nan rollback``) the keeper instead restores that
checkpoint, multiplies every optimizer's learning rate by ``nan_lr_factor`` (0.5) and goes on,
at most ``max_rollbacks`` (3) times; the data stream continues forward, so a rolled-back run is a
new run, not a replay.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

__all__ = ["RunKeeper", "NonFiniteLossError", "ResumeError", "seed_at", "optimizers_of"]


class NonFiniteLossError(ArithmeticError):
    """A training loss or gradient norm became NaN or infinite."""


class ResumeError(RuntimeError):
    """A run folder's checkpoint cannot be restored into this config's model."""


def seed_at(seed, step):
    """The seed of the random stream from ``step`` on (the same in every run of ``seed``)."""
    return (int(seed) * 1_000_003 + int(step) * 7919 + 17) % (2 ** 31 - 1)


def optimizers_of(model):
    """``{attribute: optimizer}`` of a compiled model (``optimizer``, ``d_optimizer``, …)."""
    import keras

    return {k: v for k, v in sorted(vars(model).items())
            if isinstance(v, keras.optimizers.Optimizer)}


def _raw_variables(model):
    """Plain ``tf.Variable`` attributes a model keeps outside Keras's tracking (VUNet's step)."""
    import tensorflow as tf

    return {k: v for k, v in sorted(vars(model).items()) if isinstance(v, tf.Variable)}


def _finite(value):
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


class RunKeeper:
    """Factory of the Keras callback that checkpoints, reseeds, checks finiteness and stops a
    run at ``total`` steps (see the module docstring). ``folder``: the run folder (checkpoints
    under ``checkpoints/``); ``chief``: whether this worker writes there (other workers of a
    multi-worker run write to a temporary folder, as TensorFlow requires every worker to save).
    ``restore()`` on the returned callback loads the latest checkpoint and returns its step."""

    def __new__(cls, folder, model, total, per_epoch, every=None, keep=3, seed=0,
                on_nan="stop", nan_lr_factor=0.5, max_rollbacks=3, global_batch=1,
                chief=True, scratch=None):
        import keras
        import tensorflow as tf

        if on_nan not in ("stop", "rollback"):
            raise ValueError(f"on_nan must be 'stop' or 'rollback', got {on_nan!r}")
        every = int(every or per_epoch)
        if every < 1 or int(keep) < 1:
            raise ValueError(f"train.checkpoint_every and train.keep_checkpoints must be ≥ 1, "
                             f"got {every} and {keep}")
        ckpt_dir = Path(folder if chief else scratch) / "checkpoints"

        class _Keeper(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.step, self.rollbacks = 0, 0
                self.step_var = tf.Variable(0, dtype=tf.int64, trainable=False)
                self.images_var = tf.Variable(0, dtype=tf.int64, trainable=False)
                opts = optimizers_of(model)
                if opts.get("optimizer") is not None and not any(o.built for o in opts.values()):
                    with model.distribute_strategy.scope():    # VUNet builds its Adam lazily
                        opts["optimizer"].build(model.trainable_variables)
                # optimizers still unbuilt hold no state (the AE-GAN's Keras default one, which
                # its own G/E/D Adams replace)
                opts = self.optimizers = {k: o for k, o in opts.items() if o.built}
                parts = {"model": [v.value for v in model.variables],
                         "step": self.step_var, "images": self.images_var,
                         **{f"opt_{k}": [v.value for v in o.variables] for k, o in opts.items()},
                         **{f"var_{k}": v for k, v in _raw_variables(model).items()}}
                self.checkpoint = tf.train.Checkpoint(**parts)
                self.checkpoint.save_counter        # created now, so a restore can fill it
                self.manager = tf.train.CheckpointManager(self.checkpoint, str(ckpt_dir),
                                                          max_to_keep=int(keep))

            @property
            def latest(self):
                return self.manager.latest_checkpoint

            # --- restore / save ------------------------------------------------------------
            def restore(self):
                """Load the latest checkpoint (if any) and return its step."""
                for stale in ckpt_dir.glob("*_temp*"):     # leftovers of a killed write
                    shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else \
                        stale.unlink(missing_ok=True)
                latest = self.latest
                if latest is None:
                    return 0
                try:
                    self.checkpoint.read(latest).assert_consumed()
                except (AssertionError, ValueError, tf.errors.OpError) as exc:
                    raise ResumeError(
                        f"{latest} cannot be restored into this config's model ({exc}). The "
                        f"run folder holds a different model or a damaged checkpoint: pass "
                        f"--restart to start over, or --output for a new folder") from None
                self.step = int(self.step_var.numpy())
                return self.step

            def save(self):
                self.step_var.assign(self.step)
                self.images_var.assign(self.step * int(global_batch))
                return self.manager.save(checkpoint_number=self.step)

            def reseed(self):
                keras.utils.set_random_seed(seed_at(seed, self.step))
                if self.model is not None and not getattr(self.model, "stateless_noise", False):
                    self.model.make_train_function(force=True)

            # --- Keras hooks -----------------------------------------------------------------
            def on_train_begin(self, logs=None):
                self.reseed()

            def on_train_batch_end(self, batch, logs=None):
                self.step += 1
                bad = sorted(k for k, v in (logs or {}).items() if not _finite(v))
                if bad:
                    self.non_finite(bad)
                    return
                if self.step >= total:
                    self.save()
                    self.model.stop_training = True
                elif self.step % every == 0 or self.step % per_epoch == 0:
                    self.save()
                    self.reseed()

            def non_finite(self, terms):
                latest = self.latest
                where = (f"the last good checkpoint is {latest} (intact; the run resumes from it)"
                         if latest else "no checkpoint was written yet")
                msg = (f"non-finite {', '.join(terms)} at step {self.step}; {where}")
                if on_nan == "rollback" and latest and self.rollbacks < max_rollbacks:
                    self.rollbacks += 1
                    self.checkpoint.read(latest).assert_consumed()
                    self.step = int(self.step_var.numpy())
                    scale = nan_lr_factor ** self.rollbacks    # the checkpoint has the old rate
                    for opt in self.optimizers.values():
                        opt.learning_rate.assign(opt.learning_rate * scale)
                    for metric in self.model.metrics:
                        metric.reset_state()
                    print(f"\n{msg}\nrollback {self.rollbacks}/{max_rollbacks}: restored step "
                          f"{self.step}, learning rates × {scale:g}")
                    self.reseed()
                    return
                self.model.stop_training = True
                hint = "" if on_nan == "rollback" else \
                    " (dgpose train --on-nan rollback restores it with a lower learning rate)"
                raise NonFiniteLossError(msg + hint)

        return _Keeper()
