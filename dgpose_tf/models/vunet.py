"""2.5D pose-guided conditional variational U-Net (VUNet with the Three-Layer Pose Space).

The network, losses and schedules are Esser, Sutter & Ommer's VUNet (CVPR 2018) as its public TF1
reference code has them (CompVis/vunet: ``models.py``, ``nn.py``, ``main.py`` and the yaml configs);
the pose input is the 2.5D thesis's Three-Layer stickman (``pose25d_vunet_thesis2019.md`` §3.2–3.3)
or, for the ablation, the reference's 2-D stickman or a 6-channel 2-D + depth map
(:mod:`.stickman`).

Pieces (all convolutions weight-normalised, :class:`WNConv2D`; ELU; dropout in residual blocks):

* ``dec_up`` — the U-Net encoder on the target stickman: a 1×1 conv to 32 filters, then per scale
  2 residual blocks (each output kept as a skip), a stride-2 conv between scales doubling the
  filters up to ``max_filters`` (128). ``n_scales = 1 + log2(size) − bottleneck_factor``.
* ``enc_up`` — the appearance encoder on the 8 normalised part crops (24 channels at
  ``size / 2^box_factor``), the same structure from ``32 · 2^box_factor`` filters over
  ``n_scales − box_factor`` scales, so its coarsest scales meet the decoder's.
* ``enc_down`` — the posterior q(z|x): from the coarsest appearance features upwards over the
  ``n_latent_scales`` (2) coarsest scales; at each, a residual block (skip from ``enc_up``), the
  posterior mean (a 3×3 conv, as many channels as the features), a sample, a residual block fed the
  skip and the sample, sub-pixel upsampling.
* ``dec_down`` — the decoder: per scale, a residual block on the ``dec_up`` skip; at the latent
  scales the pose-conditioned prior p(z|y) — autoregressive over the 4 space-to-depth groups of the
  latent (teacher-forced with the posterior's groups in training), except at 1×1 where it has no
  spatial groups — then the latent (posterior in training and transfer, prior when sampling)
  concatenated, a 1×1 conv back to the width and a residual block; sub-pixel upsampling between
  scales; a final 3×3 conv to RGB (no output non-linearity, as the reference).

Latents are unit-variance Gaussians (``tfd.Normal(mean, 1)``); KL by ``tfd.kl_divergence``.
Loss: ``perceptual(x, x̂) + w_KL · Σ_scales KL(q‖p)`` (summed over latent elements, averaged over
the batch), the perceptual loss 5 × Σ L1 of VGG features (:mod:`.perceptual`), w_KL ramped from 1e-6
to 1 linearly between 1/2 and 3/4 of training; Adam(1e-3, β1 0.5, β2 0.9), the learning rate
constant to ``lr_decay_begin`` then linear to 0 at the last step (the reference: 1,000 and
100,000). Configs: :data:`CONFIGS` (256² DeepFashion, 128² Market, 64² CPU).

The reference initialises weight-norm scales from data (one forward pass on ``init_batches``);
here ``g = 1, b = 0`` (unit-norm filters keep activations near unit scale at the start) — the
deviation is one call, :meth:`VUNet.data_init`, which sets them the reference's way.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import layers, ops

from .stickman import STICKMAN_KINDS, crop_size_for, draw_stickman, part_crops

__all__ = ["WNConv2D", "ResidualBlock", "VUNet", "CONFIGS", "n_scales", "latent_shapes"]

#: Reference configurations: image size, box_factor (crop size = size / 2^box_factor) and
#: bottleneck_factor (n_scales = 1 + log2(size) − bottleneck_factor).
CONFIGS = {
    "deepfashion256": dict(image_size=256, box_factor=2, bottleneck_factor=2),
    "market128": dict(image_size=128, box_factor=1, bottleneck_factor=1),
    "cpu64": dict(image_size=64, box_factor=1, bottleneck_factor=1, max_filters=64,
                  trim_dead_taps=True),
}


def n_scales(image_size, bottleneck_factor):
    return 1 + int(round(math.log2(image_size))) - int(bottleneck_factor)


def latent_shapes(image_size, bottleneck_factor, max_filters=128, n_filters=32,
                  n_latent_scales=2):
    """(H, W, C) of each latent, coarsest first."""
    ns = n_scales(image_size, bottleneck_factor)
    filters = [min(n_filters * 2 ** i, max_filters) for i in range(ns)]
    sizes = [image_size // 2 ** i for i in range(ns)]
    return [(sizes[-1 - l], sizes[-1 - l], filters[-1 - l]) for l in range(n_latent_scales)]


def _tfd():
    import tensorflow_probability as tfp

    return tfp.distributions


@keras.saving.register_keras_serializable(package="dgpose_tf")
class WNConv2D(layers.Layer):
    """Weight-normalised convolution (Salimans & Kingma 2016): ``y = g · conv(x, V / ‖V‖) + b``
    with ‖V‖ over each output filter; V ~ N(0, 0.05²), g = 1, b = 0 (the reference's ``nn.conv2d``;
    a 1×1 one is its ``nin``)."""

    def __init__(self, filters, kernel=3, stride=1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel, self.stride = int(filters), int(kernel), int(stride)

    def build(self, input_shape):
        cin = int(input_shape[-1])
        self.v = self.add_weight(name="v", shape=(self.kernel, self.kernel, cin, self.filters),
                                 initializer=keras.initializers.RandomNormal(0.0, 0.05))
        self.g = self.add_weight(name="g", shape=(self.filters,), initializer="ones")
        self.b = self.add_weight(name="b", shape=(self.filters,), initializer="zeros")

    def unscaled(self, x):
        w = self.v / ops.sqrt(ops.sum(ops.square(self.v), axis=(0, 1, 2), keepdims=True) + 1e-12)
        return ops.conv(x, ops.cast(w, x.dtype), strides=self.stride, padding="same")

    def call(self, x):
        return self.unscaled(x) * ops.cast(self.g, x.dtype) + ops.cast(self.b, x.dtype)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel": self.kernel,
                "stride": self.stride}


@keras.saving.register_keras_serializable(package="dgpose_tf")
class ResidualBlock(layers.Layer):
    """The reference's ``nn.residual_block``: ``x + conv3×3(dropout(elu([x, nin(elu(a))])))``
    (the skip ``a`` optional)."""

    def __init__(self, filters, skip=False, dropout=0.0, kernel=3, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.skip, self.dropout = int(filters), bool(skip), float(dropout)
        self.kernel = int(kernel)
        self.nin = WNConv2D(self.filters, 1, name="nin") if self.skip else None
        self.conv = WNConv2D(self.filters, self.kernel, name="conv")
        self.drop = layers.Dropout(self.dropout)

    def build(self, x_shape, a_shape=None):
        h = int(x_shape[-1])
        if self.skip:
            self.nin.build(a_shape)
            h += self.filters
        self.conv.build(tuple(x_shape[:-1]) + (h,))

    def call(self, x, a=None, training=False):
        r = x
        if self.skip:
            r = ops.concatenate([r, self.nin(ops.elu(a))], axis=-1)
        r = self.drop(ops.elu(r), training=training)
        return x + self.conv(r)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "skip": self.skip,
                "dropout": self.dropout, "kernel": self.kernel}


def _split_groups(x):
    return tf.split(tf.nn.space_to_depth(x, 2), 4, axis=-1)


def _merge_groups(xs):
    return tf.nn.depth_to_space(tf.concat(xs, axis=-1), 2)


@keras.saving.register_keras_serializable(package="dgpose_tf")
class VUNet(keras.Model):
    """Conditional variational U-Net on a stickman (see the module docstring).

    Args:
        image_size: 64, 128 or 256 (or any power of two ≥ 16).
        stickman: "three_layer" (the default, the thesis), "2d" (the reference) or "2d_depth".
        box_factor, bottleneck_factor: as the reference's configs (:data:`CONFIGS`).
        n_filters, max_filters: 32 and 128 (the reference's ``models.py`` defaults).
        n_latent_scales: 2.  dropout: 0.1 (``drop_prob``).
    """

    def __init__(self, image_size=256, stickman="three_layer", box_factor=2, bottleneck_factor=2,
                 n_filters=32, max_filters=128, n_residual_blocks=2, n_latent_scales=2,
                 dropout=0.1, trim_dead_taps=False, **kwargs):
        super().__init__(**kwargs)
        if stickman not in STICKMAN_KINDS:
            raise ValueError(f"stickman must be one of {sorted(STICKMAN_KINDS)}, got {stickman!r}")
        if image_size < 16 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two ≥ 16, got {image_size}")
        if n_residual_blocks % 2:
            raise ValueError("n_residual_blocks must be even")
        self.image_size, self.stickman = int(image_size), stickman
        self.box_factor, self.bottleneck_factor = int(box_factor), int(bottleneck_factor)
        self.n_filters, self.max_filters = int(n_filters), int(max_filters)
        self.n_residual_blocks, self.n_latent_scales = int(n_residual_blocks), int(n_latent_scales)
        self.dropout = float(dropout)
        self.trim_dead_taps = bool(trim_dead_taps)
        self.stickman_channels = STICKMAN_KINDS[stickman]
        self.crop_size = crop_size_for(self.image_size, self.box_factor)
        self.n_scales = n_scales(self.image_size, self.bottleneck_factor)
        self.n_scales_enc = self.n_scales - self.box_factor
        if self.n_scales_enc < self.n_latent_scales or self.n_scales < self.n_latent_scales:
            raise ValueError("too few scales for the latent scales: check box/bottleneck factors")
        nr, d = self.n_residual_blocks, self.dropout
        self.filters = [min(self.n_filters * 2 ** i, self.max_filters) for i in range(self.n_scales)]
        enc_f = [min(self.n_filters * 2 ** self.box_factor * 2 ** i, self.max_filters)
                 for i in range(self.n_scales_enc)]
        self.enc_filters = enc_f
        # dec_up: the stickman U-Net encoder
        self.du_in = WNConv2D(self.filters[0], 1, name="dec_up_in")
        self.du_res = [[ResidualBlock(f, dropout=d, name=f"dec_up_{l}_res_{i}") for i in range(nr)]
                       for l, f in enumerate(self.filters)]
        self.du_down = [WNConv2D(self.filters[l + 1], 3, 2, name=f"dec_up_{l}_down")
                        for l in range(self.n_scales - 1)]
        # enc_up: the appearance encoder on the part crops
        self.eu_in = WNConv2D(enc_f[0], 1, name="enc_up_in")
        self.eu_res = [[ResidualBlock(f, dropout=d, name=f"enc_up_{l}_res_{i}") for i in range(nr)]
                       for l, f in enumerate(enc_f)]
        self.eu_down = [WNConv2D(enc_f[l + 1], 3, 2, name=f"enc_up_{l}_down")
                        for l in range(self.n_scales_enc - 1)]
        # enc_down: the posterior, over the latent scales only
        L, half = self.n_latent_scales, nr // 2
        ef = enc_f[::-1]
        self.ed_in = WNConv2D(ef[0], 1, name="enc_down_in")
        # after the last latent the reference runs two more blocks whose output nothing reads
        # (no gradient reaches them); they are left out
        self.ed_res = [[ResidualBlock(ef[l], skip=True, dropout=d, name=f"enc_down_{l}_res_{i}")
                        for i in range(nr if l + 1 < L else half)] for l in range(L)]
        self.ed_q = [WNConv2D(ef[l], 3, name=f"enc_down_{l}_q") for l in range(L)]
        self.ed_up = [WNConv2D(4 * ef[l + 1], 3, name=f"enc_down_{l}_up") for l in range(L - 1)]
        # dec_down: prior + decoder
        df = self.filters[::-1]
        self.dd_in = WNConv2D(df[0], 1, name="dec_down_in")
        self.dd_res = [[ResidualBlock(df[l], skip=True, dropout=d, name=f"dec_down_{l}_res_{i}")
                        for i in range(nr)] for l in range(self.n_scales)]
        self.dd_nin = [[WNConv2D(df[l], 1, name=f"dec_down_{l}_nin_{i}") for i in range(half)]
                       for l in range(L)]
        self.dd_up = [WNConv2D(4 * df[l + 1], 3, name=f"dec_down_{l}_up")
                      for l in range(self.n_scales - 1)]
        sizes = [self.image_size // 2 ** i for i in range(self.n_scales)][::-1]
        self.latent_sizes = sizes[:L]
        self.prior_res0, self.prior_p, self.prior_ar = [], [], []
        for l in range(L):
            c = df[l]
            if sizes[l] == 1:
                self.prior_res0.append(None)
                self.prior_p.append([WNConv2D(c, 3, name=f"prior_{l}_p")])
                self.prior_ar.append([])
            else:
                # after space-to-depth a 2×2 latent is 1×1: a 'same' 3×3 conv there only ever
                # uses its centre tap, so trim_dead_taps makes those 1×1 (same function, 1/9
                # of the weights; the reference keeps 3×3)
                k = 1 if self.trim_dead_taps and sizes[l] == 2 else 3
                self.prior_res0.append(ResidualBlock(c, dropout=d, name=f"prior_{l}_res"))
                self.prior_p.append([WNConv2D(c, k, name=f"prior_{l}_p_{g}") for g in range(4)])
                self.prior_ar.append([ResidualBlock(4 * c, skip=True, dropout=d, kernel=k,
                                                    name=f"prior_{l}_ar_{g}") for g in range(3)])
        self.out_conv = WNConv2D(3, 3, name="dec_params")
        self.perceptual = None
        self.kl_ramp = (0.5, 0.75)
        self.steps_before = 0
        self.step_var = tf.Variable(0, trainable=False, dtype=tf.int64, name="vunet_step")
        self.loss_trackers = {k: keras.metrics.Mean(name=k)
                              for k in ("loss", "perceptual", "kl", "kl_weight", "kl_0", "kl_1",
                                        "noise")}
        self.noise_ramp = False

    # ---- building -------------------------------------------------------------------------------
    def build(self, input_shape=None):
        s, cs = self.image_size, self.crop_size
        self.call((tf.zeros((1, cs, cs, 24)), tf.zeros((1, s, s, self.stickman_channels))),
                  training=False)
        self.built = True

    # ---- the four passes ------------------------------------------------------------------------
    def _up(self, x, conv_in, res, down, training):
        hs = []
        h = conv_in(x)
        for l, blocks in enumerate(res):
            for blk in blocks:
                h = blk(h, training=training)
                hs.append(h)
            if l < len(down):
                h = down[l](h)
        return hs

    def dec_up(self, c, training=False):
        return self._up(c, self.du_in, self.du_res, self.du_down, training)

    def enc_up(self, xn, training=False):
        return self._up(xn, self.eu_in, self.eu_res, self.eu_down, training)

    def enc_down(self, hs, training=False, sample=True, noise=1.0):
        """Posterior means and samples (``q + noise · ε``, ε ~ N(0, I)), coarsest first."""
        hs = list(hs)
        half = self.n_residual_blocks // 2
        h = self.ed_in(hs[-1])
        qs, zs = [], []
        for l in range(self.n_latent_scales):
            for i in range(half):
                h = self.ed_res[l][i](h, hs.pop(), training=training)
            q = self.ed_q[l](h)
            z = q + noise * tf.random.normal(tf.shape(q)) if sample else q
            qs.append(q)
            zs.append(z)
            if l + 1 < self.n_latent_scales:
                for i in range(half, self.n_residual_blocks):
                    h = self.ed_res[l][i](h, ops.concatenate([hs.pop(), z], -1),
                                          training=training)
                h = tf.nn.depth_to_space(self.ed_up[l](h), 2)
        return qs, zs

    @staticmethod
    def _noise(shape, seed, k):
        if seed is None:
            return tf.random.normal(shape)
        return tf.random.stateless_normal(shape, tf.stack([tf.cast(seed, tf.int32),
                                                           tf.constant(k, tf.int32)]))

    def _prior(self, l, h, z_post, training, seed=None):
        """Prior means at latent scale ``l`` and the latent it leads to: teacher-forced by the
        posterior ``z_post`` when given, else sampled group by group (``seed``: reproducible)."""
        if self.prior_res0[l] is None:
            p = self.prior_p[l][0](h)
            return p, (z_post if z_post is not None else
                       p + self._noise(tf.shape(p), seed, 4 * l))
        feats = tf.nn.space_to_depth(self.prior_res0[l](h, training=training), 2)
        post_groups = _split_groups(z_post) if z_post is not None else None
        p_groups, z_groups = [], []
        for g in range(4):
            p = self.prior_p[l][g](feats)
            z = p + self._noise(tf.shape(p), seed, 4 * l + g)
            p_groups.append(p)
            z_groups.append(z)
            if g < 3:
                fb = post_groups[g] if post_groups is not None else z
                feats = self.prior_ar[l][g](feats, fb, training=training)
        z = z_post if z_post is not None else _merge_groups(z_groups)
        return _merge_groups(p_groups), z

    def dec_down(self, gs, zs_post=None, training=False, seed=None):
        """Decoder: ``zs_post`` (coarsest first) given → teacher-forced prior and those latents;
        None → latents sampled from the prior. Returns ``(image, prior means, latents used)``."""
        gs = list(gs)
        half = self.n_residual_blocks // 2
        h = self.dd_in(gs[-1])
        ps, zs = [], []
        for l in range(self.n_scales):
            for i in range(half):
                h = self.dd_res[l][i](h, gs.pop(), training=training)
            if l < self.n_latent_scales:
                p, z = self._prior(l, h, None if zs_post is None else zs_post[l], training, seed)
                ps.append(p)
                zs.append(z)
                for i in range(half):
                    h = self.dd_nin[l][i](ops.concatenate([h, z], -1))
                    h = self.dd_res[l][half + i](h, gs.pop(), training=training)
            else:
                for i in range(half, self.n_residual_blocks):
                    h = self.dd_res[l][i](h, gs.pop(), training=training)
            if l + 1 < self.n_scales:
                h = tf.nn.depth_to_space(self.dd_up[l](h), 2)
        return self.out_conv(h), ps, zs

    def call(self, inputs, training=False):
        """``(crops, stickman)`` → reconstruction with the posterior means (no sampling)."""
        xn, c = inputs
        qs, _ = self.enc_down(self.enc_up(xn, training), training, sample=False)
        x, _, _ = self.dec_down(self.dec_up(c, training), qs, training)
        return x

    # ---- user-facing ----------------------------------------------------------------------------
    def check_inputs(self, crops=None, stickman=None):
        """Named errors for inputs of the wrong shape (a stickman of another kind or size, crops
        of another crop size or without the 8 parts)."""
        s, cs, ch = self.image_size, self.crop_size, self.stickman_channels
        if stickman is not None and tuple(stickman.shape[1:]) != (s, s, ch):
            raise ValueError(f"stickman must be (N, {s}, {s}, {ch}) for a {self.stickman!r} "
                             f"VUNet at {s}², got {tuple(stickman.shape)}")
        if crops is not None and tuple(crops.shape[1:]) != (cs, cs, 24):
            raise ValueError(f"part crops must be (N, {cs}, {cs}, 24) (8 parts × RGB at "
                             f"{s}/2^{self.box_factor}), got {tuple(crops.shape)}")

    def appearance(self, crops):
        """Posterior means of the latents (coarsest first) from part crops."""
        self.check_inputs(crops=crops)
        qs, _ = self.enc_down(self.enc_up(crops), sample=False)
        return qs

    def generate(self, stickman, latents=None, seed=None):
        """Image from a stickman with given latents (e.g. :meth:`appearance`), or with latents
        drawn from the prior (reproducibly for an integer ``seed``)."""
        self.check_inputs(stickman=stickman)
        x, _, _ = self.dec_down(self.dec_up(stickman), latents, seed=seed)
        return x

    def prepare(self, images, joints13, valid13, labels=None):
        """``(crops, stickman)`` model inputs from images in [−1, 1] and stick joints (pixels)."""
        if tuple(images.shape[1:]) != (self.image_size, self.image_size, 3):
            raise ValueError(f"images must be (N, {self.image_size}, {self.image_size}, 3) for "
                             f"this VUNet, got {tuple(images.shape)}")
        crops = part_crops(images, joints13, valid13, self.crop_size)
        stick = draw_stickman(joints13, valid13, labels, self.image_size, self.stickman)
        return crops, 2.0 * stick - 1.0

    SERVING_DEFAULT = "transfer"

    def serving_endpoints(self):
        """SavedModel signatures: ``transfer`` (the person in ``image`` with its stick ``joints``,
        ``valid``, ``labels`` → the same appearance in the ``target_*`` pose), ``reconstruct``,
        ``sample`` (appearance drawn from the prior, reproducible by ``seed``) and ``stickman``. Images in [−1, 1]; joints
        are the 13 stick joints (:data:`dgpose_tf.pose.three_layer.STICK_JOINTS`) in pixels,
        ``valid`` 0/1, ``labels`` the 8 limb depth classes in {−1, 0, 1} (ignored by a
        2-D-stickman model)."""
        return _serving(self)

    # ---- training -------------------------------------------------------------------------------
    def compile(self, perceptual=None, learning_rate=1e-3, beta_1=0.5, beta_2=0.9, steps=100_000,
                lr_decay_begin=1000, kl_ramp=(0.5, 0.75), kl_start=1e-6, kl_max=1.0,
                posterior_noise_ramp=False, **kwargs):
        """``perceptual``: a :class:`.perceptual.PerceptualLoss` (default: L1 + SSIM).
        ``steps``: the last step (``lr_decay_end``); the learning rate is constant until
        ``lr_decay_begin`` then linear to 0; the KL weight goes linearly from ``kl_start`` to
        ``kl_max`` (the reference: 1) between ``kl_ramp[0]·steps`` and ``kl_ramp[1]·steps``.

        ``posterior_noise_ramp`` (not the reference's; for short runs): the posterior samples'
        noise is ramped in with the KL weight instead of being at 1 from the start. Measured at
        64² after 1,000 steps of the reference's schedule: posterior means of standard deviation
        0.84 / 0.94 against sample noise of 1, and a decoder that ignored the latents (swapping two
        people's latents changed the foreground by 0.003 against a reconstruction error of 0.41
        on [−1, 1]) — the reference gets past this over ~100,000 steps, a CPU run has 4,000."""
        from .perceptual import PerceptualLoss

        self.perceptual = perceptual or PerceptualLoss(None)
        self.total_steps, self.lr_decay_begin = int(steps), int(lr_decay_begin)
        self.kl_ramp, self.kl_start = tuple(kl_ramp), float(kl_start)
        self.kl_max = float(kl_max)
        if not 0.0 < self.kl_start <= self.kl_max:
            raise ValueError(f"need 0 < kl_start <= kl_max, got {kl_start} and {kl_max}")
        self.noise_ramp = bool(posterior_noise_ramp)
        self.base_lr = float(learning_rate)
        super().compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=beta_1,
                                                        beta_2=beta_2), **kwargs)

    @property
    def metrics(self):
        return list(getattr(self, "loss_trackers", {}).values())

    def schedules(self, step):
        """(learning rate, KL weight) at a global step (the reference's ``make_linear_var``)."""
        step = tf.cast(step, tf.float32)
        T = float(self.total_steps)
        b = float(self.lr_decay_begin)
        lr = self.base_lr * tf.clip_by_value((T - step) / max(T - b, 1.0), 0.0, 1.0)
        k0, k1 = self.kl_ramp[0] * T, self.kl_ramp[1] * T
        w = self.kl_start + (self.kl_max - self.kl_start) * (step - k0) / max(k1 - k0, 1.0)
        return lr, tf.clip_by_value(w, self.kl_start, self.kl_max)

    def posterior_noise(self, step):
        """Standard deviation of the posterior samples at a step: 1 (the reference), or with
        ``posterior_noise_ramp`` 0 until the KL ramp starts, then linear to 1 where it ends."""
        if not self.noise_ramp:
            return tf.constant(1.0)
        T = float(self.total_steps)
        k0, k1 = self.kl_ramp[0] * T, self.kl_ramp[1] * T
        return tf.clip_by_value((tf.cast(step, tf.float32) - k0) / max(k1 - k0, 1.0), 0.0, 1.0)

    def kl_terms(self, qs, ps):
        tfd = _tfd()
        return [tf.reduce_mean(tf.reduce_sum(
            tfd.kl_divergence(tfd.Normal(q, 1.0), tfd.Normal(p, 1.0)), axis=[1, 2, 3]))
            for q, p in zip(qs, ps)]

    def _forward(self, batch, training, noise=1.0):
        xn, c = batch["crops"], batch["stickman"]
        qs, zs = self.enc_down(self.enc_up(xn, training), training, sample=True, noise=noise)
        rec, ps, _ = self.dec_down(self.dec_up(c, training), zs, training)
        return rec, qs, ps

    def train_step(self, batch):
        step = self.step_var + int(self.steps_before)
        lr, w = self.schedules(step)
        noise = self.posterior_noise(step)
        self.optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            rec, qs, ps = self._forward(batch, True, noise)
            perc = self.perceptual(batch["image"], rec)
            kls = self.kl_terms(qs, ps)
            loss = perc + w * tf.add_n(kls)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.step_var.assign_add(1)
        vals = {"loss": loss, "perceptual": perc, "kl": tf.add_n(kls), "kl_weight": w,
                "noise": noise}
        for i, k in enumerate(kls[:2]):
            vals[f"kl_{i}"] = k
        for k, v in vals.items():
            self.loss_trackers[k].update_state(v)
        return {k: t.result() for k, t in self.loss_trackers.items()}

    def data_init(self, batch):
        """The reference's data-dependent initialisation: every weight-norm layer gets
        ``g = 1 / std``, ``b = −mean / std`` of its unscaled output on ``batch``, layer by layer
        in forward order (eager; call once before training)."""
        convs = [l for l in self._flatten_layers(include_self=False, recursive=True)
                 if isinstance(l, WNConv2D)]

        def make(conv):
            def init_call(x):
                y = conv.unscaled(x)
                m, v = tf.nn.moments(y, axes=[0, 1, 2])
                g = 1.0 / tf.sqrt(v + 1e-10)
                conv.g.assign(g)
                conv.b.assign(-m * g)
                return y * g - m * g
            return init_call

        for conv in convs:
            object.__setattr__(conv, "call", make(conv))
        try:
            self._forward(batch, training=False)
        finally:
            for conv in convs:
                conv.__dict__.pop("call", None)

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "stickman": self.stickman,
                "box_factor": self.box_factor, "bottleneck_factor": self.bottleneck_factor,
                "n_filters": self.n_filters, "max_filters": self.max_filters,
                "n_residual_blocks": self.n_residual_blocks,
                "n_latent_scales": self.n_latent_scales, "dropout": self.dropout,
                "trim_dead_taps": self.trim_dead_taps}


def _serving(model):
    """The VUNet's SavedModel signatures (see :meth:`VUNet.serving_endpoints`)."""
    s = model.image_size
    img = lambda name: tf.TensorSpec((None, s, s, 3), tf.float32, name)
    jts = lambda name: tf.TensorSpec((None, 13, 2), tf.float32, name)
    val = lambda name: tf.TensorSpec((None, 13), tf.float32, name)
    lab = lambda name: tf.TensorSpec((None, 8), tf.int32, name)

    def clip(x):
        return tf.clip_by_value(x, -1.0, 1.0)

    def stickman(joints, valid, labels):
        return {"stickman": draw_stickman(joints, valid > 0.5, labels, s, model.stickman)}

    def reconstruct(image, joints, valid, labels):
        crops, stick = model.prepare(image, joints, valid > 0.5, labels)
        return {"image": clip(model.generate(stick, model.appearance(crops)))}

    def transfer(image, joints, valid, labels, target_joints, target_valid, target_labels):
        crops, _ = model.prepare(image, joints, valid > 0.5, labels)
        stick = 2.0 * draw_stickman(target_joints, target_valid > 0.5, target_labels, s,
                                    model.stickman) - 1.0
        return {"image": clip(model.generate(stick, model.appearance(crops)))}

    def sample(joints, valid, labels, seed):
        stick = 2.0 * draw_stickman(joints, valid > 0.5, labels, s, model.stickman) - 1.0
        return {"image": clip(model.generate(stick, seed=seed))}

    return {
        "transfer": (transfer, [img("image"), jts("joints"), val("valid"), lab("labels"),
                                jts("target_joints"), val("target_valid"),
                                lab("target_labels")]),
        "reconstruct": (reconstruct, [img("image"), jts("joints"), val("valid"), lab("labels")]),
        "sample": (sample, [jts("joints"), val("valid"), lab("labels"),
                            tf.TensorSpec((), tf.int32, "seed")]),
        "stickman": (stickman, [jts("joints"), val("valid"), lab("labels")]),
    }

