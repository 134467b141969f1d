"""Pose-sequence AE-GAN (pose_sequence_aegan_thesis2019.md): generator G, critic D and encoder E
on 2-D pose sequences of F = 24 frames × J = 28 MPI-INF-3DHP joints, trained with WGAN-GP plus an
autoencoder loss; inpainting by gradient descent on the latent code lives beside it in
:mod:`dgpose_tf.models.inpainting`.

Shapes (Table 1, written C × F × entries there; channels-last here): a sequence ``(B, 24, 28, 2)``
is **rearranged** (§4.2, Fig. 3) into ``(B, 24, 18, 4)``: 18 entries ordered along the body from
the hands to the feet, each holding a left and a right joint (x, y of each); a non-dual joint
(head, neck, spine, pelvis) fills both halves of its entry. G produces both copies of a non-dual
joint and outputs their mean (footnote 2). D concatenates per-frame speeds (§4.5, backward
differences, zero at the first frame) → 8 channels; E takes a third 0/1 channel per joint, the
observation mask (§7.2.1) → 6 channels. Convolutions have no bias (BN's shift replaces it; the
ones without BN have none either — the table's counts say so), padding and cropping are explicit
(Caffe arithmetic, as :mod:`dgpose_tf.layers`), and the trainable parameter counts are the
table's: G 1,148,480, D 1,115,521, E 1,148,096.

Where the thesis contradicts itself, with the choice made and the alternative as an option:

* Table 1 ends D and E with a **sigmoid**. A WGAN critic is unbounded (its loss is a difference of
  means; a sigmoid bounds it and its gradient vanishes), and E must produce codes of the N(0, I)
  prior that G samples from (§4.4), which a sigmoid's (0, 1) cannot. Default: linear outputs, as
  WGAN-GP (Gulrajani et al. 2017) and the text; ``critic_sigmoid`` / ``encoder_sigmoid`` give the
  table's reading.
* D has **BatchNorm** in Table 1; WGAN-GP's authors advise against it in a critic (the gradient
  penalty is per sample, BN mixes samples) and use layer normalisation. Default: the table's BN;
  ``critic_norm="layer"`` (same parameter count) is the WGAN-GP alternative.
* "50 million iterations" of batch 256 is ~10¹⁰ sequences, beyond any CPU; configs set the steps.
* Discriminator/generator step ratio: the thesis alternates one step each (§4.3); WGAN-GP uses 5
  critic steps. ``critic_steps`` (default 1, the thesis).
* Δt of MPJSE: one frame (the thesis says only "the time interval between two frames"; the loss
  weights absorb the unit, §7.2.2).

Losses (§4.3–4.6), per batch of clean sequences ``x`` and their corrupted versions ``x'`` (missing
joints/frames, the 12-joint AlphaPose subset; :meth:`corrupt`):

* D: ``D(G(z)) − D(x) + λ_gp (‖∇D(x̂)‖₂ − 1)²``, λ_gp = 10, x̂ uniform on segments x–G(z);
* G: ``−D(G(z)) + L_AE + L_Mix``; E: ``L_AE + L_Mix``, with
  ``L_AE = 200·MPJPE(x, G(E(x'))) + 100·MPJSE(x, G(E(x'))) + 2·MSE(z, E(G(z)))`` and
  ``L_Mix = −D(G(E(x')))``;
* three Adams (1e-4, β1 0.5, β2 0.999, ε 1e-8).

The N(0, I) prior is a ``tfd.MultivariateNormalDiag``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from ..pose import get_skeleton
from .vaegan import tfd

__all__ = ["FRAMES", "JOINTS", "LATENT", "SKELETON", "ENTRIES", "rearrange", "unrearrange",
           "mirror_rearranged", "speeds", "mpjpe", "mpjse", "Generator", "Critic", "Encoder",
           "PoseSequenceAEGAN"]

FRAMES, LATENT = 24, 128
SKELETON = "mpi_inf_3dhp28"
JOINTS = get_skeleton(SKELETON).num_joints       # 28

#: The 18 entries of the rearranged representation, from the hands to the feet (Fig. 3):
#: (left joint, right joint); a non-dual joint is its own pair.
ENTRIES = (("left_hand", "right_hand"), ("left_wrist", "right_wrist"),
           ("left_elbow", "right_elbow"), ("left_shoulder", "right_shoulder"),
           ("left_clavicle", "right_clavicle"), ("head_top", "head_top"), ("head", "head"),
           ("neck", "neck"), ("spine4", "spine4"), ("spine3", "spine3"), ("spine2", "spine2"),
           ("spine", "spine"), ("pelvis", "pelvis"), ("left_hip", "right_hip"),
           ("left_knee", "right_knee"), ("left_ankle", "right_ankle"),
           ("left_foot", "right_foot"), ("left_toe", "right_toe"))

_SK = get_skeleton(SKELETON)
_LEFT = np.array([_SK.index(a) for a, _ in ENTRIES])
_RIGHT = np.array([_SK.index(b) for _, b in ENTRIES])
# (36 slots = left halves then right halves) → 28 joints: each joint the mean of its slots
_BACK = np.zeros((JOINTS, 2 * len(ENTRIES)), np.float32)
for _s, _j in enumerate(np.concatenate([_LEFT, _RIGHT])):
    _BACK[_j, _s] = 1.0
_BACK /= _BACK.sum(1, keepdims=True)
assert (_BACK > 0).any(1).all(), "every joint has an entry"


def rearrange(x):
    """``(B, F, 28, C)`` → ``(B, F, 18, 2C)``: per entry the left joint's C values then the
    right joint's (non-dual joints duplicated)."""
    return ops.concatenate([ops.take(x, _LEFT, axis=2), ops.take(x, _RIGHT, axis=2)], -1)


def unrearrange(y):
    """``(B, F, 18, 2C)`` → ``(B, F, 28, C)``: each joint the mean of the slots holding it (the
    generator's two versions of a non-dual joint are averaged, footnote 2)."""
    c = y.shape[-1] // 2
    slots = ops.concatenate([y[..., :c], y[..., c:]], 2)           # (B, F, 36, C)
    return ops.einsum("js,bfsc->bfjc", ops.convert_to_tensor(_BACK, slots.dtype), slots)


def mirror_rearranged(y):
    """Left-right mirror in the rearranged space: swap the halves of every entry, negate x
    (the same as :func:`dgpose_tf.data.motion.mirror` before :func:`rearrange`, for C = 2)."""
    left, right = y[..., :2], y[..., 2:]
    flip = ops.convert_to_tensor(np.array([-1.0, 1.0], np.float32), y.dtype)
    return ops.concatenate([right * flip, left * flip], -1)


def speeds(y):
    """Per-frame backward differences along axis 1, zero at the first frame (§4.5)."""
    return ops.concatenate([ops.zeros_like(y[:, :1]), y[:, 1:] - y[:, :-1]], 1)


def mpjpe(x, y, mask=None):
    """Mean per-joint position error per sequence ``(B,)``: mean over frames and joints of
    ‖x − y‖₂ (over ``mask`` = 1 joints only, if given)."""
    d = ops.sqrt(ops.sum(ops.square(x - y), -1) + 1e-12)
    if mask is None:
        return ops.mean(d, [1, 2])
    return ops.sum(d * mask, [1, 2]) / ops.maximum(ops.sum(mask, [1, 2]), 1.0)


def mpjse(x, y, mask=None, dt=1.0):
    """Mean per-joint speed error per sequence ``(B,)`` (§4.4): Σ over the F−1 frame pairs of
    ‖Δx − Δy‖₂ / Δt divided by J·F; with ``mask`` a pair counts where the joint is observed at
    both frames, and the division is by the observed count scaled by F / (F − 1)."""
    dx = (x[:, 1:] - x[:, :-1] - (y[:, 1:] - y[:, :-1])) / dt
    d = ops.sqrt(ops.sum(ops.square(dx), -1) + 1e-12)
    f = ops.cast(ops.shape(x)[1], d.dtype)
    if mask is None:
        return ops.sum(d, [1, 2]) / (f * ops.cast(ops.shape(x)[2], d.dtype))
    both = mask[:, 1:] * mask[:, :-1]
    return ops.sum(d * both, [1, 2]) / ops.maximum(ops.sum(both, [1, 2]) * f / (f - 1), 1.0)


# --- layers -------------------------------------------------------------------------------------
def _conv(filters, kernel, stride, pad, name):
    """Caffe convolution with (possibly rectangular) explicit zero padding, no bias."""
    seq = [layers.ZeroPadding2D(pad, name=f"{name}_pad")] if any(pad) else []
    return seq + [layers.Conv2D(filters, kernel, strides=stride, padding="valid", use_bias=False,
                                kernel_initializer="he_normal", name=name)]


def _deconv(filters, kernel, stride, crop, name):
    """Caffe transposed convolution: 'valid' then cropped by ``crop`` on each side, no bias."""
    seq = [layers.Conv2DTranspose(filters, kernel, strides=stride, padding="valid", use_bias=False,
                                  kernel_initializer="he_normal", name=name)]
    return seq + ([layers.Cropping2D(crop, name=f"{name}_crop")] if any(crop) else [])


def _norm(kind, name):
    if kind == "batch":
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)
    if kind == "layer":
        return layers.LayerNormalization(epsilon=1e-5, name=name)
    raise ValueError(f"norm must be 'batch' or 'layer', got {kind!r}")


class _Stack(keras.Model):
    """A sequential stack whose layer outputs can be listed (:meth:`shapes`)."""

    def run(self, x, training=None):
        for layer in self.stack:
            x = layer(x, training=training) if _takes_training(layer) else layer(x)
        return x

    def shapes(self, input_shape):
        """``[(layer name, output shape)]`` for an input shape (Table 1's columns)."""
        out, shape = [], tuple(input_shape)
        for layer in self.stack:
            shape = layer.compute_output_shape(shape)
            out.append((layer.name, tuple(shape)))
        return out


def _takes_training(layer):
    return isinstance(layer, (layers.BatchNormalization, layers.Dropout))


def _act(kind, name):
    if kind == "relu":
        return layers.ReLU(name=name)
    if kind == "lrelu":
        return layers.LeakyReLU(negative_slope=0.2, name=name)   # DCGAN's slope
    if kind == "tanh":
        return layers.Activation("tanh", name=name)
    return layers.Activation("sigmoid", name=name)


@keras.saving.register_keras_serializable(package="dgpose_tf")
class Generator(_Stack):
    """Table 1a: z (B, 128) → (B, 24, 28, 2) in [−1, 1] (tanh)."""

    def __init__(self, latent=LATENT, **kwargs):
        super().__init__(**kwargs)
        self.latent = int(latent)
        s = [layers.Reshape((1, 1, self.latent), name="to_map"),
             *_conv(256, 1, 1, (0, 0), "conv1"), _norm("batch", "bn1"), _act("relu", "relu1"),
             *_deconv(256, 3, 1, (0, 0), "deconv2"), _norm("batch", "bn2"), _act("relu", "relu2"),
             *_deconv(128, (4, 3), (2, 1), ((1, 1), (0, 0)), "deconv3"), _norm("batch", "bn3"),
             _act("relu", "relu3"),
             *_deconv(64, (4, 3), (2, 2), ((1, 1), (1, 1)), "deconv4"), _norm("batch", "bn4"),
             _act("relu", "relu4"),
             *_deconv(32, (4, 4), (2, 2), ((1, 1), (1, 1)), "deconv5"), _norm("batch", "bn5"),
             _act("relu", "relu5"),
             *_conv(4, 1, 1, (0, 0), "conv6"), _act("tanh", "tanh6")]
        self.stack = s

    def build(self, input_shape=None):
        shape = (None, self.latent)
        for layer in self.stack:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    def call(self, z, training=None):
        return unrearrange(self.run(z, training))

    def get_config(self):
        return {"latent": self.latent, "name": self.name}


class _Trunk(_Stack):
    """The shared D/E trunk (Table 1b/c): 1×1 → 4×4/2 → 4×3/2 → 4×3/(2, 1) → 3×3 → linear."""

    def _trunk(self, norm, outputs, sigmoid):
        s = [*_conv(32, 1, 1, (0, 0), "conv1"), _act("lrelu", "lrelu1"),
             *_conv(64, 4, 2, (1, 1), "conv2"), _norm(norm, "norm2"), _act("lrelu", "lrelu2"),
             *_conv(128, (4, 3), 2, (1, 1), "conv3"), _norm(norm, "norm3"),
             _act("lrelu", "lrelu3"),
             *_conv(256, (4, 3), (2, 1), ((1, 1), (0, 0)), "conv4"), _norm(norm, "norm4"),
             _act("lrelu", "lrelu4"),
             *_conv(256, 3, 1, (0, 0), "conv5"), layers.Flatten(name="flatten"),
             layers.Dense(outputs, name="linear")]
        if sigmoid:
            s.append(_act("sigmoid", "sigmoid"))
        return s

    def build(self, input_shape=None):
        shape = (None, FRAMES, len(ENTRIES), self.channels)
        for layer in self.stack:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True


@keras.saving.register_keras_serializable(package="dgpose_tf")
class Critic(_Trunk):
    """Table 1b: (B, 24, 28, 2) → a score (B, 1); rearranged, speeds concatenated (8 channels)."""

    channels = 8

    def __init__(self, norm="batch", sigmoid=False, **kwargs):
        super().__init__(**kwargs)
        self.norm, self.sigmoid = norm, bool(sigmoid)
        self.stack = self._trunk(norm, 1, self.sigmoid)

    def call(self, x, training=None):
        r = rearrange(x)
        return self.run(ops.concatenate([r, speeds(r)], -1), training)

    def get_config(self):
        return {"norm": self.norm, "sigmoid": self.sigmoid, "name": self.name}


@keras.saving.register_keras_serializable(package="dgpose_tf")
class Encoder(_Trunk):
    """Table 1c: (B, 24, 28, 2) with a 0/1 mask (B, 24, 28) → z (B, 128). Missing joints enter as
    (0, 0, 0); the mask is the third channel."""

    channels = 6

    def __init__(self, latent=LATENT, sigmoid=False, **kwargs):
        super().__init__(**kwargs)
        self.latent, self.sigmoid = int(latent), bool(sigmoid)
        self.stack = self._trunk("batch", self.latent, self.sigmoid)

    def call(self, inputs, training=None):
        x, mask = inputs
        mask = ops.cast(mask, x.dtype)[..., None]
        return self.run(rearrange(ops.concatenate([x * mask, mask], -1)), training)

    def get_config(self):
        return {"latent": self.latent, "sigmoid": self.sigmoid, "name": self.name}


# --- the composite model ------------------------------------------------------------------------
def _check_sequences(x, name="poses"):
    shape = tuple(x.shape)
    if len(shape) != 4 or shape[1] != FRAMES or shape[2] != JOINTS or shape[3] != 2:
        raise ValueError(f"{name} must be (batch, {FRAMES}, {JOINTS}, 2) sequences of the "
                         f"{SKELETON} joints, got {shape}")


@keras.saving.register_keras_serializable(package="dgpose_tf")
class PoseSequenceAEGAN(keras.Model):
    """G, D and E with the thesis's training step (module docstring).

    ``call((poses, mask))`` reconstructs: G(E(x, mask)). Applications: :meth:`encode`,
    :meth:`generate`, :meth:`sample`, :meth:`reconstruct`; inpainting of whole sequences in
    :func:`dgpose_tf.models.inpainting.inpaint`.

    Args:
        latent: L (128).
        critic_norm: ``"batch"`` (Table 1) or ``"layer"`` (WGAN-GP).
        critic_sigmoid, encoder_sigmoid: Table 1's final sigmoids (off: module docstring).
    """

    LOSS_TERMS = ("loss", "mpjpe", "mpjse", "z_mse", "g_adv", "mix", "d_loss", "gp",
                  "wasserstein")

    def __init__(self, latent=LATENT, critic_norm="batch", critic_sigmoid=False,
                 encoder_sigmoid=False, **kwargs):
        super().__init__(**kwargs)
        self.latent = int(latent)
        self.critic_norm, self.critic_sigmoid = critic_norm, bool(critic_sigmoid)
        self.encoder_sigmoid = bool(encoder_sigmoid)
        self.generator = Generator(self.latent, name="generator")
        self.critic = Critic(critic_norm, self.critic_sigmoid, name="critic")
        self.encoder = Encoder(self.latent, self.encoder_sigmoid, name="encoder")
        self.weights_ae = dict(mpjpe=200.0, mpjse=100.0, z=2.0)
        self.gp_weight, self.critic_steps = 10.0, 1
        self.corruption = dict(CORRUPTION)
        self.trackers = {n: keras.metrics.Mean(name=n) for n in self.LOSS_TERMS}

    def build(self, input_shape=None):
        self.generator.build()
        self.critic.build()
        self.encoder.build()
        self.built = True

    def get_config(self):
        return {"latent": self.latent, "critic_norm": self.critic_norm,
                "critic_sigmoid": self.critic_sigmoid, "encoder_sigmoid": self.encoder_sigmoid,
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def prior(self, dtype="float32"):
        """p(z) = N(0, I) over the L latent dimensions."""
        return tfd().MultivariateNormalDiag(loc=ops.zeros((self.latent,), dtype))

    # --- applications ----------------------------------------------------------------------------
    def encode(self, poses, mask=None, training=False):
        """E(x, mask): latent codes (B, L); ``mask`` (B, 24, 28), 1 = observed (default: all)."""
        _check_sequences(poses)
        if mask is None:
            mask = ops.ones(ops.shape(poses)[:-1], poses.dtype)
        return self.encoder([poses, mask], training=training)

    def generate(self, z, training=False):
        """G(z): sequences (B, 24, 28, 2)."""
        return self.generator(z, training=training)

    def score(self, poses, training=False):
        """D(x): the critic's realism score (B,)."""
        _check_sequences(poses)
        return self.critic(poses, training=training)[:, 0]

    def sample(self, n, seed=None):
        """n sequences from z ~ N(0, I)."""
        return self.generate(self.prior().sample(n, seed=seed))

    def reconstruct(self, poses, mask=None):
        """G(E(x, mask)): the sequence through the autoencoder (missing joints filled in)."""
        return self.generate(self.encode(poses, mask))

    def call(self, inputs, training=False):
        poses, mask = inputs
        return self.generator(self.encoder([poses, mask], training=training), training=training)

    # --- training --------------------------------------------------------------------------------
    def compile(self, learning_rate=1e-4, beta_1=0.5, beta_2=0.999, epsilon=1e-8,
                gp_weight=10.0, critic_steps=1, loss_weights=None, corruption=None, **kwargs):
        """Three Adams (G, E, D) with the thesis's settings (§7.2.2); ``loss_weights`` overrides
        λ_p, λ_s, λ_z (``{"mpjpe": 200, "mpjse": 100, "z": 2}``); ``corruption`` the training
        corruption (:data:`CORRUPTION`)."""
        super().compile(**kwargs)
        adam = lambda name: keras.optimizers.Adam(learning_rate, beta_1, beta_2, epsilon,
                                                  name=name)
        self.g_optimizer, self.e_optimizer, self.d_optimizer = adam("g_adam"), adam("e_adam"), \
            adam("d_adam")
        if not self.built:
            self.build()
        for opt, net in ((self.g_optimizer, self.generator), (self.e_optimizer, self.encoder),
                         (self.d_optimizer, self.critic)):
            opt.build(net.trainable_variables)
        self.gp_weight, self.critic_steps = float(gp_weight), int(critic_steps)
        self.weights_ae.update(loss_weights or {})
        unknown = set(corruption or {}) - set(CORRUPTION)
        if unknown:
            raise ValueError(f"unknown corruption keys {sorted(unknown)}; known: "
                             f"{', '.join(CORRUPTION)}")
        self.corruption = {**CORRUPTION, **(corruption or {})}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def corrupt(self, poses, seed=None):
        """The encoder's training input: a 0/1 observation mask (B, F, J) for clean ``poses``
        (§4.6): with probability ``subset_p`` only the 12 AlphaPose joints; every joint dropped at
        each frame with a per-sequence rate drawn in [0, ``joint_drop``]; with probability
        ``gap_p`` a run of 1…``max_gap`` consecutive frames entirely missing."""
        import tensorflow as tf

        c = self.corruption
        b = tf.shape(poses)[0]
        keep12 = ops.convert_to_tensor(ALPHAPOSE_IN_28, poses.dtype)
        use12 = tf.cast(tf.random.uniform([b, 1, 1]) < c["subset_p"], poses.dtype)
        mask = use12 * keep12 + (1 - use12)
        rate = tf.random.uniform([b, 1, 1], 0.0, c["joint_drop"])
        mask *= tf.cast(tf.random.uniform([b, FRAMES, JOINTS]) >= rate, poses.dtype)
        length = tf.random.uniform([b, 1], 1, c["max_gap"] + 1, tf.int32)
        start = tf.random.uniform([b, 1], 0, FRAMES, tf.int32)
        f = tf.range(FRAMES)[None]
        gap = (f >= start) & (f < start + length)
        gap &= tf.random.uniform([b, 1]) < c["gap_p"]
        return mask * (1 - tf.cast(gap, poses.dtype))[..., None]

    def generator_losses(self, x, mask, training=True):
        """Per-sequence terms of the G/E objective: ``L_Gen + L_AE + L_Mix``."""
        b = ops.shape(x)[0]
        z = self.prior(x.dtype).sample(b)
        x_rec = self.generator(self.encoder([x, mask], training=training), training=training)
        x_gen = self.generator(z, training=training)
        z_rec = self.encoder([x_gen, ops.ones_like(mask)], training=training)
        w = self.weights_ae
        e_p, e_s = mpjpe(x, x_rec), mpjse(x, x_rec)
        z_mse = ops.mean(ops.square(z - z_rec), -1)
        g_adv = -self.critic(x_gen, training=training)[:, 0]
        mix = -self.critic(x_rec, training=training)[:, 0]
        loss = g_adv + w["mpjpe"] * e_p + w["mpjse"] * e_s + w["z"] * z_mse + mix
        return {"loss": loss, "mpjpe": e_p, "mpjse": e_s, "z_mse": z_mse, "g_adv": g_adv,
                "mix": mix}

    def critic_losses(self, x, training=True):
        """WGAN-GP: ``D(G(z)) − D(x) + λ_gp (‖∇D(x̂)‖ − 1)²`` per sequence."""
        import tensorflow as tf

        b = tf.shape(x)[0]
        fake = tf.stop_gradient(tf.cast(
            self.generator(self.prior(x.dtype).sample(b), training=training), x.dtype))
        eps = tf.random.uniform([b, 1, 1, 1], dtype=x.dtype)
        mixed = eps * x + (1 - eps) * fake
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            d_mixed = self.critic(mixed, training=training)
        grad = tape.gradient(d_mixed, mixed)
        gp = tf.square(tf.sqrt(tf.reduce_sum(tf.square(grad), [1, 2, 3]) + 1e-12) - 1.0)
        d_real = self.critic(x, training=training)[:, 0]
        d_fake = self.critic(fake, training=training)[:, 0]
        return {"d_loss": d_fake - d_real + self.gp_weight * gp, "gp": gp,
                "wasserstein": d_real - d_fake}

    def train_step(self, batch):
        import tensorflow as tf

        x = tf.convert_to_tensor(batch["poses"])
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        for _ in range(self.critic_steps):
            with tf.GradientTape() as tape:
                d = self.critic_losses(x)
                d_loss = tf.reduce_mean(d["d_loss"]) / replicas
            grads = tape.gradient(d_loss, self.critic.trainable_variables)
            self.d_optimizer.apply_gradients(zip(grads, self.critic.trainable_variables))
        mask = batch["observed"] if "observed" in batch else self.corrupt(x)
        g_vars, e_vars = self.generator.trainable_variables, self.encoder.trainable_variables
        with tf.GradientTape() as tape:
            g = self.generator_losses(x, tf.cast(mask, x.dtype))
            loss = tf.reduce_mean(g["loss"]) / replicas
        grads = tape.gradient(loss, g_vars + e_vars)
        # L_Gen does not depend on E, so one gradient of the sum gives G its objective
        # (L_Gen + L_AE + L_Mix) and E its own (L_AE + L_Mix)
        self.g_optimizer.apply_gradients(zip(grads[:len(g_vars)], g_vars))
        self.e_optimizer.apply_gradients(zip(grads[len(g_vars):], e_vars))
        for k, v in {**g, **d}.items():
            self.trackers[k].update_state(tf.reduce_mean(v))
        return {k: t.result() for k, t in self.trackers.items()}

    def test_step(self, batch):
        import tensorflow as tf

        x = tf.convert_to_tensor(batch["poses"])
        mask = batch["observed"] if "observed" in batch else self.corrupt(x)
        g = self.generator_losses(x, tf.cast(mask, x.dtype), training=False)
        for k, v in g.items():
            self.trackers[k].update_state(tf.reduce_mean(v))
        return {k: self.trackers[k].result() for k in g}

    # --- serving ---------------------------------------------------------------------------------
    SERVING_DEFAULT = "inpaint"

    def serving_endpoints(self):
        """``encode``, ``generate`` and ``score``, in the model's own frame (y up). The
        ``inpaint`` signature (its :data:`SERVING_DEFAULT`) is the inpainting procedure's, which
        builds on this model: :func:`dgpose_tf.models.inpainting.serving_endpoints` adds it, and
        :func:`dgpose_tf.serving.endpoints_of` gives every family's full set."""
        import tensorflow as tf

        seq = lambda name: tf.TensorSpec((None, FRAMES, JOINTS, 2), tf.float32, name)

        return {
            "encode": (lambda poses, observed: {"latent": self.encode(poses, observed)},
                       [seq("poses"), tf.TensorSpec((None, FRAMES, JOINTS), tf.float32,
                                                    "observed")]),
            "generate": (lambda latent: {"poses": self.generate(latent)},
                         [tf.TensorSpec((None, self.latent), tf.float32, "latent")]),
            "score": (lambda poses: {"score": self.score(poses)}, [seq("poses")]),
        }


def _alphapose_in_28():
    from ..pose import conversion

    keep = conversion(SKELETON, "alphapose12").matrix.any(0)    # 28 joints the 12 copy
    return keep.astype(np.float32)


#: 1 for the 12 MPI-INF-3DHP joints that AlphaPose's body keypoints observe.
ALPHAPOSE_IN_28 = _alphapose_in_28()

#: Training corruption of the encoder's input (§4.6; the thesis gives no rates, these are ours):
#: half the batches see only the 12 AlphaPose joints (upsampling), each sequence drops joints at a
#: rate up to 0.3, and half have a gap of up to 12 frames (0.5 s at 24 fps).
CORRUPTION = {"subset_p": 0.5, "joint_drop": 0.3, "gap_p": 0.5, "max_gap": 12}
