"""The VAE-GAN training machinery shared by Semi-DGPose and Conditional-DGPose.

A subclass has ``encoder``, ``decoder`` and ``discriminator`` networks and defines
``LOSS_TERMS`` (names of the per-sample generator terms it logs) and
``generator_losses(batch, training)`` returning
per-sample tensors ``(B,)`` for each term, the total ``"loss"`` and the reconstructions
``"x_hat"`` (and optionally ``"x_fake"``: every drawing the discriminator should call fake, k·B of
them; default ``x_hat``). This base class supplies:

* ``compile``: Adam for the generator and for the discriminator (lr 1e-4, Keras's default β, as
  both papers), the discriminator's optimizer built explicitly (keras-team/keras#23085), coupled
  L2 weight decay (Caffe / PyTorch Adam, not AdamW). Options the CPU recipes use (defaults are the
  papers'): ``beta_1`` (0.5 is DCGAN's, Radford et al. 2016, the usual GAN setting),
  ``d_learning_rate``, one-sided ``label_smoothing`` of D's real targets (Salimans et al. 2016)
  and ``kl_warmup``: the KL terms' weight rises linearly from 0 to 1 over that many generator
  steps (KL annealing, Bowman et al. 2016; VUNet ramps its KL weight the same way). Measured
  reason: at width 1/8 and the papers' weight 1 from step 0, the posterior stays at its initial
  σ ≈ 0.7 with a signal-to-noise ratio of its means below 1 after 1,000 steps, so the decoder
  learns to ignore z (the background colour is not reconstructed); the schedule follows
  ``optimizer.iterations`` (restored with the optimizer when a run resumes) plus
  ``steps_before`` (0 unless a caller continues a run without its optimizer state);
  ``kl_beta``: the KL weight after the ramp (a beta-VAE; 1 in the papers). Against a pixel-summed
  L1 (a Laplace likelihood of scale 1 on [-1, 1] pixels, far wider than the images' noise) a
  weight of 1 let q(z|x) carry only 60-80 nats at width 1/8, too little to redraw a background;
* ``train_step``: one generator update, then one discriminator update by cross-entropy on real
  images vs the (stopped-gradient) reconstructions. Each replica divides its mean loss (and its
  share of the weight decay) by ``num_replicas_in_sync`` because Keras sums gradients across
  replicas; logs are unscaled and include both gradients' global norms (the fit's NaN guard
  reads them);
* ``test_step`` and the N(0, I) prior as a ``tfd.MultivariateNormalDiag``.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["VAEGAN", "coupled_weight_decay", "tfd"]


def tfd():
    import tensorflow_probability as tfp
    return tfp.distributions


def coupled_weight_decay(grads, variables, decay):
    """Caffe/PyTorch-style L2 weight decay: ``g + decay · w`` for every gradient."""
    return [None if g is None else g + decay * v for g, v in zip(grads, variables)]


def non_saturating_gan(d_fake):
    """The generator's GAN term −log D(G(·)) per sample."""
    return -ops.log(ops.maximum(d_fake, 1e-7))


class VAEGAN(keras.Model):
    LOSS_TERMS = ("loss", "l1", "kl_z", "g_gan")
    D_TERMS = ("d_loss", "d_real", "d_fake")
    GRAD_TERMS = ("g_grad_norm", "d_grad_norm")     # a non-finite gradient shows here

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.weight_decay, self.label_smoothing, self.kl_warmup, self.kl_beta = 5e-4, 0.0, 0.0, 1.0
        self.steps_before = 0         # generator steps of earlier sessions of a resumed run
        self.trackers = {n: keras.metrics.Mean(name=n) for n in
                         self.LOSS_TERMS + self.D_TERMS + self.GRAD_TERMS}

    def compile(self, optimizer=None, d_optimizer=None, weight_decay=5e-4, learning_rate=1e-4,
                beta_1=0.9, d_learning_rate=None, label_smoothing=0.0, kl_warmup=0, kl_beta=1.0,
                **kwargs):
        """Call inside the distribution strategy's scope."""
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        optimizer = optimizer or keras.optimizers.Adam(learning_rate, beta_1=beta_1)
        super().compile(optimizer=optimizer, **kwargs)
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(
            learning_rate if d_learning_rate is None else d_learning_rate, beta_1=beta_1)
        self.label_smoothing = float(label_smoothing)
        self.kl_warmup, self.kl_beta = float(kl_warmup), float(kl_beta)
        if not self.built:
            self.build()
        self.optimizer.build(self.generator_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.weight_decay = float(weight_decay)

    @property
    def generator_variables(self):
        """What the generator update trains: encoder + decoder."""
        return self.encoder.trainable_variables + self.decoder.trainable_variables

    # the posterior samples of a training step are drawn with stateless seeds from the step
    # count: the random stream is part of the checkpointed state, so a resumed run needs no
    # reseeding and retracing (dgpose_tf.fit.resume)
    stateless_noise = True
    noise_base = 0

    def noise_seed(self, salt):
        """A stateless seed ``[base + salt, step]`` for the samples of one training step (the
        optimizer's iteration count; 0 before compile)."""
        import tensorflow as tf

        opt = getattr(self, "optimizer", None)
        step = tf.constant(0, tf.int64) if opt is None else tf.cast(opt.iterations, tf.int64)
        return tf.cast(tf.stack([tf.constant(self.noise_base + 7919 * salt, tf.int64),
                                 step]), tf.int32)

    def kl_weight(self):
        """The KL terms' weight: β (1 in the papers), reached by the ``kl_warmup`` ramp over
        generator steps when there is one."""
        if self.kl_warmup <= 0 or getattr(self, "optimizer", None) is None:
            return self.kl_beta
        step = ops.cast(self.optimizer.iterations, "float32") + float(self.steps_before)
        return self.kl_beta * ops.minimum(1.0, step / self.kl_warmup)

    @property
    def metrics(self):
        return list(self.trackers.values())

    @staticmethod
    def prior(dim, dtype="float32"):
        """N(0, I) of ``dim`` dimensions ("weak Gaussian priors")."""
        return tfd().MultivariateNormalDiag(ops.zeros((dim,), dtype), ops.ones((dim,), dtype))

    def _decayed(self, grads, variables):
        # each replica adds its share: the gradients are summed across replicas
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return coupled_weight_decay(grads, variables, self.weight_decay / replicas)

    def train_step(self, batch):
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            out = self.generator_losses(batch, training=True)
            g_loss = tf.reduce_mean(out["loss"]) / replicas
        g_vars = self.generator_variables
        grads = self._decayed(tape.gradient(g_loss, g_vars), g_vars)
        self.optimizer.apply_gradients(zip(grads, g_vars))

        x_fake = tf.stop_gradient(out.get("x_fake", out["x_hat"]))    # k·B fakes, k ≥ 1
        with tf.GradientTape() as tape:
            d_real = self.discriminator(batch["image"], training=True)[:, 0]
            d_fake = self.discriminator(x_fake, training=True)[:, 0]
            real = 1.0 - self.label_smoothing              # one-sided smoothing
            fake_term = tf.reduce_mean(tf.reshape(
                -tf.math.log(tf.maximum(1.0 - d_fake, 1e-7)), [-1, tf.shape(d_real)[0]]), 0)
            d_loss_each = -real * tf.math.log(tf.maximum(d_real, 1e-7)) - \
                (1.0 - real) * tf.math.log(tf.maximum(1.0 - d_real, 1e-7)) + fake_term
            d_loss = tf.reduce_mean(d_loss_each) / replicas
        d_vars = self.discriminator.trainable_variables
        d_grads = self._decayed(tape.gradient(d_loss, d_vars), d_vars)
        self.d_optimizer.apply_gradients(zip(d_grads, d_vars))

        logs = {k: tf.reduce_mean(out[k]) for k in self.LOSS_TERMS}
        logs.update(d_loss=tf.reduce_mean(d_loss_each), d_real=tf.reduce_mean(d_real),
                    d_fake=tf.reduce_mean(d_fake),
                    g_grad_norm=tf.linalg.global_norm([g for g in grads if g is not None]),
                    d_grad_norm=tf.linalg.global_norm([g for g in d_grads if g is not None]))
        for k, v in logs.items():
            self.trackers[k].update_state(v)
        return {k: t.result() for k, t in self.trackers.items()}

    def test_step(self, batch):
        out = self.generator_losses(batch, training=False)
        for k in self.LOSS_TERMS:
            self.trackers[k].update_state(ops.mean(out[k]))
        return {k: self.trackers[k].result() for k in self.LOSS_TERMS}
