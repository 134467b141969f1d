"""Semi-DGPose (de Bem et al., ECCV Workshops 2018): networks of Table A1/A2 and the applications.

Images are 64×64×3 in [−1, 1] (the decoder's tanh range), channels-last. Every layer follows
Table A1 at ``width = 1.0``; ``width`` scales the hidden channel counts for CPU-sized variants
(the latent sizes — z 100, y 48 — and the 24 heatmap / 3 image channels are never scaled).

Choices where the paper is silent (stated here once):
* σ heads: the FC output passes through softplus (+1e-4) to give a positive scale; their bias
  starts at 0 (σ ≈ 0.69), or, with ``sigma_init``, where σ starts at that value. Both
  families' CPU recipes use ``sigma_init`` 0.05 (measured: from σ ≈ 0.69 the width-1/8
  decoder learns to ignore z early — Semi-DGPose's version-2 posterior sat at σ_z 1.04 with
  means that varied by 0.09 over people, a flat grey output, and Conditional-DGPose learnt ~3×
  slower; starting nearly deterministic is the usual cure of this posterior collapse, the KL
  then widens σ as it needs);
* FC layers use Keras's Glorot-uniform initialisation (He initialisation is stated for conv and
  deconv layers only);
* priors p(y) = p(z) = N(0, I) ("weak Gaussian priors");
* BN epsilon 1e-5 (see :mod:`dgpose_tf.layers`).

q(y|x), q(z|x), p(y), p(z) are ``tfd.MultivariateNormalDiag`` distributions.

Training (:meth:`SemiDGPose.train_step`, Eq. 2–7 and §3) on batches that mix labelled and
unlabelled samples through ``has_label``:

* unlabelled: KL(q(y|x)‖p(y)) + KL(q(z|x)‖p(z)) + L1(x, G(y, z)) + GAN, with y, z sampled by
  reparameterisation;
* labelled: KL(q(z|x)‖p(z)) + α·regression + L1 + GAN, where the *label* (not a sample) goes
  through the Mapper to the decoder, so no gradient flows from the decoder into q(y|x);
* γ weighs the labelled terms (γ = 1), α = 100;
* the discriminator is trained by cross-entropy on real images vs reconstructions;
* option (off in the paper; ``compile(pose_consistency=w)``, the 25 % synthetic entry's last
  stages): every sample is also drawn in another sample's pose, the frozen pose network's map
  loss on that drawing is added with weight w, and the discriminator sees it as fake too.

Further choices where the paper is silent: the L1 term is summed over pixels (the negative
log-likelihood of a unit-scale Laplace, consistent with KL terms summed over latent dimensions);
the regression of Eq. 4 is α times the squared error of the posterior mean μ_y to the label,
averaged over the label's valid entries (Fig. 2 calls it "a regression loss"); the generator's
GAN term is the non-saturating −log D(G(y, z)); weight decay 5e-4 is the coupled L2 of Caffe and
PyTorch's Adam (added to the gradients of all trainable variables), not AdamW's.
Losses are averaged over the global batch: each replica divides its mean by
``num_replicas_in_sync`` because gradients are summed across replicas; logged values are
unscaled.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from ..layers import ConvBlock, ResBlock, ResidualBlock, scaled
from ..pose.heatmaps import POSE_VECTOR_DIM
from .background_stream import (EXTRA_CHANNELS, HOLE_DILATION, HOLE_THRESHOLD,
                                PART_COLOUR_CHANNELS, body_hole, check_hole_settings, draw, fill,
                                grow_weights, part_colours, training_hole)
from .vaegan import VAEGAN, coupled_weight_decay, non_saturating_gan, tfd as _tfd

__all__ = ["IMAGE_SIZE", "Z_DIM", "Y_DIM", "HEATMAP_CHANNELS", "Encoder", "PoseMapHead",
           "PoseNetHead", "Mapper", "Decoder", "Discriminator", "SemiDGPose", "MapperTrainer",
           "PoseTrainer", "vector_to_joints", "soft_argmax", "map_targets",
           "map_loss", "coupled_weight_decay"]

IMAGE_SIZE = 64
Z_DIM = 100
Y_DIM = POSE_VECTOR_DIM          # 48
HEATMAP_CHANNELS = 24


def _f32(x):
    """Network outputs in float32 whatever the layers compute in (e.g. the ``mixed_bfloat16``
    policy), so that distributions and losses are float32."""
    return ops.cast(x, "float32")


def _check_images(images, size=IMAGE_SIZE):
    shape = tuple(images.shape)
    if len(shape) != 4 or shape[1:] != (size, size, 3):
        raise ValueError(f"Semi-DGPose takes images of shape (batch, {size}, {size}, 3) in "
                         f"[-1, 1]; got {shape}")


def _deconv_stack(width, name):
    """Layers 2–5 shared by the Mapper and the decoder: 1×1 → 4 → 8 → 16 → 32."""
    return [ConvBlock(scaled(512, width), 4, 1, 0, transpose=True, batch_norm=True,
                      activation="leaky_relu", slope=0.2, name=f"{name}2"),
            *(ConvBlock(scaled(c, width), 4, 2, 1, transpose=True, batch_norm=True,
                        activation="leaky_relu", slope=0.2, name=f"{name}{i}")
              for i, c in zip((3, 4, 5), (256, 128, 64)))]


def _sigma_bias(sigma):
    """The σ head's bias that gives σ = softplus(bias) + 1e-4 (softplus⁻¹)."""
    return float(np.log(np.expm1(float(sigma) - 1e-4)))


def _build_chain(blocks, shape):
    for block in blocks:
        block.build(shape)
        shape = block.compute_output_shape(shape)
    return shape


class _Net(keras.Model):
    def __init__(self, width=1.0, **kwargs):
        super().__init__(**kwargs)
        self.width = float(width)

    def get_config(self):
        return {"width": self.width, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


POSE_FROM = ("fc", "heatmaps", "residual")
_TAPS = (1, 2, 3)            # the trunk's layers 2, 3, 4 (15×15, 8×8, 4×4) feed the map head
MAP_SIZE = 16


@keras.saving.register_keras_serializable(package="dgpose_tf")
class PoseMapHead(_Net):
    """μ_y by integral regression (Sun et al., ECCV 2018; an option, not Table A1). A stem of its
    own on the image (3×3 conv-BN-ReLU: stride 2 to 32×32, ``scaled(128, width)`` channels,
    twice; stride 2 to 16×16, ``scaled(256, width)``), concatenated with the trunk's layer-2, -3
    and -4 features (15×15, 8×8, 4×4: the context) resized to 16×16, two 3×3 conv-BN-ReLU of
    ``scaled(256, width)``, a 1×1 conv to 24 maps — one per point of the pose vector — and each
    map's soft-argmax (expected position under its spatial softmax, in the pose vector's
    [−1, 1] coordinates: cell i's centre at (i + ½)/8 − 1). Measured at width 1/4 on Semi-DGPose
    version 5's frozen trunk: without the stem (the trunk's features alone) the held-out PCK@0.5
    stayed at 0.70 after 500 and 1,000 steps of batch 64; with it, 0.718 after 500 and 0.726
    after 2,500."""

    def __init__(self, width=1.0, **kwargs):
        super().__init__(width, **kwargs)
        c1, c2 = scaled(128, self.width), scaled(256, self.width)
        self.stem = [ConvBlock(c1, 3, 2, 1, batch_norm=True, activation="relu", name="stem1"),
                     ConvBlock(c1, 3, 1, 1, batch_norm=True, activation="relu", name="stem2"),
                     ConvBlock(c2, 3, 2, 1, batch_norm=True, activation="relu", name="stem3")]
        self.blocks = [ConvBlock(c2, 3, 1, 1, batch_norm=True, activation="relu", name="map1"),
                       ConvBlock(c2, 3, 1, 1, batch_norm=True, activation="relu", name="map2"),
                       ConvBlock(Y_DIM // 2, 1, 1, 0, name="logits")]

    def build(self, input_shapes):
        image_shape, taps = tuple(input_shapes[0]), input_shapes[1:]
        n, _, _, c = _build_chain(self.stem, image_shape)
        _build_chain(self.blocks, (n, MAP_SIZE, MAP_SIZE, c + sum(s[-1] for s in taps)))
        self.built = True

    def logits(self, inputs, training=None):
        """``inputs``: ``[image, tap2, tap3, tap4]`` → 24 maps ``(B, 16, 16, 24)``."""
        x = inputs[0]
        for block in self.stem:
            x = block(x, training=training)
        x = ops.concatenate([x] + [ops.image.resize(t, (MAP_SIZE, MAP_SIZE), "bilinear")
                                   for t in inputs[1:]], -1)
        for block in self.blocks:
            x = block(x, training=training)
        return _f32(x)

    def call(self, inputs, training=None):
        return soft_argmax(self.logits(inputs, training=training))


def _cell_grid(size):
    """The cells' centres of an S×S map in the pose vector's [−1, 1] coordinates, flattened
    row-major: ``(x (S·S,), y (S·S,))``, cell i's centre at (i + ½)/(S/2) − 1."""
    centres = (np.arange(size, dtype=np.float32) + 0.5) / (size / 2) - 1.0
    gy, gx = np.meshgrid(centres, centres, indexing="ij")
    return gx.reshape(-1), gy.reshape(-1)


def _per_point(logits):
    """``(B, S, S, 24)`` maps → ``(B, 24, S·S)``: one flattened map per point."""
    size = logits.shape[1]
    return ops.reshape(ops.transpose(logits, (0, 3, 1, 2)), (-1, Y_DIM // 2, size * size))


def soft_argmax(logits):
    """Maps ``(B, S, S, 24)`` → pose vectors ``(B, 48)``: each map's expected position under its
    spatial softmax, in the pose vector's [−1, 1] coordinates (:func:`_cell_grid`)."""
    p = ops.softmax(_per_point(logits), -1)
    gx, gy = _cell_grid(logits.shape[1])
    return ops.reshape(ops.stack([ops.sum(p * gx, -1), ops.sum(p * gy, -1)], -1), (-1, Y_DIM))


@keras.saving.register_keras_serializable(package="dgpose_tf")
class PoseNetHead(_Net):
    """μ_y from a pose network of its own (an option, not Table A1): the image alone, not the
    trunk's features, through a SimpleBaseline-style residual encoder–decoder with skips (Xiao et
    al., ECCV 2018; Newell et al.'s hourglass skips) — a 3×3 stride-2 stem to 32×32 of
    ``c = scaled(128, width)`` channels, basic residual blocks (2 at 32×32 of c, 2 at 16×16 of
    2c, 3 at 8×8 of 4c), two 4×4 stride-2 deconvolutions back to 32×32, each followed by the
    skip of that size (concatenated) and a 3×3 conv-BN-ReLU, a 1×1 conv to 24 maps of 32×32 and
    their :func:`soft_argmax` (integral regression, Sun et al., ECCV 2018).

    Why: the Table A1 trunk ends in a 1×1 feature; Semi-DGPose's FC head, a plain supervised FC
    regression and :class:`PoseMapHead` on that trunk all level off at held-out PCK@0.5
    0.72–0.73, with wrists at the mean pose's level. Pose networks of the field keep a spatial
    map at a fraction of the input's resolution all the way to the output."""

    def __init__(self, width=1.0, **kwargs):
        super().__init__(width, **kwargs)
        c = scaled(128, self.width)
        bn_relu = dict(batch_norm=True, activation="relu")
        self.stem = ConvBlock(c, 3, 2, 1, name="stem", **bn_relu)
        self.stages = [
            [ResBlock(c, name="res1a"), ResBlock(c, name="res1b")],
            [ResBlock(2 * c, 2, name="res2a"), ResBlock(2 * c, name="res2b")],
            [ResBlock(4 * c, 2, name="res3a"), ResBlock(4 * c, name="res3b"),
             ResBlock(4 * c, name="res3c")]]
        self.ups = [ConvBlock(2 * c, 4, 2, 1, transpose=True, name="up2", **bn_relu),
                    ConvBlock(c, 4, 2, 1, transpose=True, name="up1", **bn_relu)]
        self.merges = [ConvBlock(2 * c, 3, 1, 1, name="merge2", **bn_relu),
                       ConvBlock(c, 3, 1, 1, name="merge1", **bn_relu)]
        self.head = ConvBlock(Y_DIM // 2, 1, 1, 0, name="logits")

    def build(self, input_shape=(None, IMAGE_SIZE, IMAGE_SIZE, 3)):
        self.logits(keras.KerasTensor(tuple(input_shape)))   # builds every layer on the way
        self.built = True

    def logits(self, images, training=None):
        """Images ``(B, 64, 64, 3)`` → 24 maps ``(B, 32, 32, 24)``."""
        x = self.stem(images, training=training)
        skips = []
        for stage in self.stages:
            for block in stage:
                x = block(x, training=training)
            skips.append(x)
        for up, merge, skip in zip(self.ups, self.merges, skips[-2::-1]):
            x = merge(ops.concatenate([up(x, training=training), skip], -1), training=training)
        return _f32(self.head(x, training=training))

    def call(self, images, training=None):
        return soft_argmax(self.logits(images, training=training))


@keras.saving.register_keras_serializable(package="dgpose_tf")
class Encoder(_Net):
    """x → (μ_z, σ_z, μ_y, σ_y): Table A1, layers 1–10 and the four FC heads.

    ``pose_head=False`` drops the y heads (x → (μ_z, σ_z)): Conditional-DGPose's encoder, which
    takes the image with its heatmaps (27 channels; the input depth comes from ``build``).
    ``sigma_init``: the σ heads' bias is set so that σ starts near this value (None: bias 0).
    ``pose_from``: "fc" (Table A1: μ_y an FC head on the 1×1 feature), "heatmaps" (μ_y from a
    :class:`PoseMapHead` on the image and the trunk's spatial features — what pose estimators
    of the field use) or "residual" (μ_y from a :class:`PoseNetHead`, a pose network of its own
    on the image); σ_y stays an FC head on the trunk. Measured at width 1/4 on held-out people:
    the FC head of Semi-DGPose version 5 0.717, a plain supervised FC regression 0.726, the map
    head on version 5's frozen trunk 0.726 (PCK@0.5) — the same level, set by the arms (wrists
    0.23); the residual pose network reached 0.957 (the zoo README, ``semi_dgpose_synthetic``).
    """

    def __init__(self, width=1.0, pose_head=True, sigma_init=None, pose_from="fc", **kwargs):
        super().__init__(width, **kwargs)
        if pose_from not in POSE_FROM:
            raise ValueError(f"pose_from must be one of {', '.join(POSE_FROM)}, got {pose_from!r}")
        self.pose_head = bool(pose_head)
        self.pose_from = pose_from
        self.sigma_init = None if sigma_init is None else float(sigma_init)
        if self.sigma_init is not None and not 1e-4 < self.sigma_init:
            raise ValueError(f"sigma_init must be above 1e-4, got {sigma_init}")
        sigma_bias = "zeros" if self.sigma_init is None else keras.initializers.Constant(
            _sigma_bias(self.sigma_init))
        w = self.width
        self.blocks = [
            ConvBlock(scaled(64, w), 7, 2, 1, activation="leaky_relu", slope=0.01, name="conv1"),
            ConvBlock(scaled(128, w), 3, 2, 1, batch_norm=True, activation="relu", name="conv2"),
            ConvBlock(scaled(256, w), 3, 2, 1, batch_norm=True, activation="relu", name="conv3"),
            *(ConvBlock(scaled(512, w), 3, 2, 1, batch_norm=True, activation="relu",
                        name=f"conv{i}") for i in (4, 5, 6)),
            *(ResidualBlock(scaled(512, w), name=f"res{i}") for i in (7, 8, 9, 10)),
        ]
        self.flatten = layers.Flatten(name="flatten")
        self.mu_z = layers.Dense(Z_DIM, name="mu_z")
        self.sigma_z = layers.Dense(Z_DIM, bias_initializer=sigma_bias, name="sigma_z")
        self.heads = [self.mu_z, self.sigma_z]
        if self.pose_head:
            if self.pose_from == "heatmaps":
                self.pose_map = PoseMapHead(self.width, name="pose_map")
            elif self.pose_from == "residual":
                self.pose_net = PoseNetHead(self.width, name="pose_net")
            else:
                self.mu_y = layers.Dense(Y_DIM, name="mu_y")
                self.heads.append(self.mu_y)
            self.sigma_y = layers.Dense(Y_DIM, bias_initializer=sigma_bias, name="sigma_y")
            self.heads.append(self.sigma_y)

    def get_config(self):
        return {**super().get_config(), "pose_head": self.pose_head,
                "sigma_init": self.sigma_init, "pose_from": self.pose_from}

    @property
    def sigma_heads(self):
        return [self.sigma_z] + ([self.sigma_y] if self.pose_head else [])

    @property
    def uses_pose_map(self):
        return self.pose_head and self.pose_from == "heatmaps"

    def reset_sigma(self, sigma, heads=None):
        """Restart the σ heads (or those of ``heads``: ``self.sigma_y``, …) at the constant
        σ = ``sigma`` (kernel 0, bias softplus⁻¹): a warm start from weights whose posterior
        had collapsed."""
        bias = _sigma_bias(sigma)
        for head in self.sigma_heads if heads is None else heads:
            head.kernel.assign(ops.zeros_like(head.kernel))
            head.bias.assign(ops.full(head.bias.shape, bias))

    def build(self, input_shape=(None, IMAGE_SIZE, IMAGE_SIZE, 3)):
        shape, taps = tuple(input_shape), [tuple(input_shape)]
        for i, block in enumerate(self.blocks):
            block.build(shape)
            shape = block.compute_output_shape(shape)
            if i in _TAPS:
                taps.append(shape)
        if self.uses_pose_map:
            self.pose_map.build(taps)
        elif self.pose_head and self.pose_from == "residual":
            self.pose_net.build(tuple(input_shape))
        self.flatten.build(shape)
        flat = (shape[0], shape[1] * shape[2] * shape[3])
        for head in self.heads:
            head.build(flat)
        self.built = True

    def features(self, x, training=None, taps=None):
        """The 1×1×512 feature after layer 10 (sigmoid applied); ``taps``, a list, receives the
        :class:`PoseMapHead`'s trunk inputs."""
        for i, block in enumerate(self.blocks):
            x = block(x, training=training)
            if taps is not None and i in _TAPS:
                taps.append(x)
        return ops.sigmoid(x)

    def call(self, images, training=None):
        taps = [images]
        h = self.flatten(self.features(images, training=training, taps=taps))
        out = (self.mu_z(h), ops.softplus(self.sigma_z(h)) + 1e-4)
        if self.pose_head:
            if self.uses_pose_map:
                mu_y = self.pose_map(taps, training=training)
            elif self.pose_from == "residual":
                mu_y = self.pose_net(images, training=training)
            else:
                mu_y = self.mu_y(h)
            out += (mu_y, ops.softplus(self.sigma_y(h)) + 1e-4)
        return tuple(_f32(t) for t in out)


@keras.saving.register_keras_serializable(package="dgpose_tf")
class Mapper(_Net):
    """Pose vector (48) → 24 heatmaps 64×64 (Table A1 "Mapper"), sigmoid output."""

    def __init__(self, width=1.0, **kwargs):
        super().__init__(width, **kwargs)
        self.reshape = layers.Reshape((1, 1, Y_DIM), name="reshape")
        self.blocks = _deconv_stack(self.width, "deconv") + [
            ConvBlock(HEATMAP_CHANNELS, 4, 2, 1, transpose=True, activation="sigmoid",
                      name="heatmaps")]

    def build(self, input_shape=(None, Y_DIM)):
        self.reshape.build(tuple(input_shape))
        _build_chain(self.blocks, (input_shape[0], 1, 1, Y_DIM))
        self.built = True

    def call(self, pose_vectors, training=None):
        x = self.reshape(pose_vectors)
        for block in self.blocks:
            x = block(x, training=training)
        return _f32(x)


@keras.saving.register_keras_serializable(package="dgpose_tf")
class Decoder(_Net):
    """(z (100), heatmaps 64×64×24) → image 64×64×3 in [−1, 1] (Table A1 "Decoder").

    ``extra_channels`` (0 in the paper): more 64×64 input maps concatenated with the heatmaps at
    layer 7 — Conditional-DGPose's optional background stream (see
    :mod:`.conditional_dgpose`); the call then takes ``(z, heatmaps, extra)``.
    """

    def __init__(self, width=1.0, extra_channels=0, **kwargs):
        super().__init__(width, **kwargs)
        w = self.width
        self.extra_channels = int(extra_channels)
        self.reshape = layers.Reshape((1, 1, Z_DIM), name="reshape")
        self.up = _deconv_stack(w, "deconv") + [
            ConvBlock(scaled(128, w), 4, 2, 1, transpose=True, batch_norm=True,
                      activation="leaky_relu", slope=0.2, name="deconv6")]
        self.concat = layers.Concatenate(name="concat7")
        self.convs = [ConvBlock(scaled(c, w), 5, 1, 2, batch_norm=True, activation="leaky_relu",
                                slope=0.2, name=f"conv{i}")
                      for i, c in zip((8, 9, 10, 11), (512, 256, 128, 128))]
        self.out = ConvBlock(3, 5, 1, 2, activation="tanh", name="image")

    def get_config(self):
        return {**super().get_config(), "extra_channels": self.extra_channels}

    def build(self, input_shape=((None, Z_DIM), (None, IMAGE_SIZE, IMAGE_SIZE, HEATMAP_CHANNELS))):
        z_shape, h_shape = input_shape[:2]
        self.reshape.build(tuple(z_shape))
        n, hh, ww, c = _build_chain(self.up, (z_shape[0], 1, 1, Z_DIM))
        maps = [tuple(h_shape)] + ([(n, hh, ww, self.extra_channels)] if self.extra_channels
                                   else [])
        self.concat.build([(n, hh, ww, c)] + maps)
        shape = _build_chain(self.convs, (n, hh, ww, c + sum(m[-1] for m in maps)))
        self.out.build(shape)
        self.built = True

    def call(self, inputs, training=None):
        z, heatmaps = inputs[0], inputs[1]
        x = self.reshape(z)
        for block in self.up:
            x = block(x, training=training)
        x = self.concat([x, heatmaps] + ([inputs[2]] if self.extra_channels else []))
        for block in self.convs:
            x = block(x, training=training)
        return _f32(self.out(x, training=training))


@keras.saving.register_keras_serializable(package="dgpose_tf")
class Discriminator(_Net):
    """Image 64×64×3 → probability of being real (Table A1 "Discriminator"), shape (B, 1)."""

    def __init__(self, width=1.0, **kwargs):
        super().__init__(width, **kwargs)
        w = self.width
        self.blocks = [
            ConvBlock(scaled(64, w), 4, 2, 1, activation="leaky_relu", slope=0.2, name="conv1"),
            *(ConvBlock(scaled(c, w), 4, 2, 1, batch_norm=True, activation="leaky_relu",
                        slope=0.2, name=f"conv{i}") for i, c in zip((2, 3, 4), (128, 256, 512))),
            ConvBlock(1, 4, 1, 0, activation="sigmoid", name="conv5")]
        self.flatten = layers.Flatten(name="flatten")

    def build(self, input_shape=(None, IMAGE_SIZE, IMAGE_SIZE, 3)):
        self.flatten.build(_build_chain(self.blocks, tuple(input_shape)))
        self.built = True

    def call(self, images, training=None):
        x = images
        for block in self.blocks:
            x = block(x, training=training)
        return _f32(self.flatten(x))


def pose_regression_error(mu_y, label, valid):
    """Per-sample squared error of pose vectors ``(B,)``, averaged over each label's valid
    entries: the regression of Eq. 4 before α (shared by the VAE-GAN and the pose warm start)."""
    return ops.sum(valid * ops.square(mu_y - label), -1) / ops.maximum(ops.sum(valid, -1), 1.0)


class _PhaseTrainer(keras.Model):
    """One network trained alone on one loss (a training phase before the VAE-GAN): Adam with
    coupled weight decay, the global-batch mean loss (divided by ``num_replicas_in_sync``, as
    Keras sums replica gradients), logged as ``loss``. Subclasses define ``phase_loss(batch)``."""

    def __init__(self, network, weight_decay=5e-4, **kwargs):
        super().__init__(**kwargs)
        self.network, self.weight_decay = network, float(weight_decay)
        self.tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.tracker]

    def train_step(self, batch):
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            loss = self.phase_loss(batch)
            scaled_loss = loss / replicas
        v = self.network.trainable_variables
        grads = coupled_weight_decay(tape.gradient(scaled_loss, v), v, self.weight_decay)
        # variables the loss does not reach (e.g. the z heads in the pose warm start) stay as they are
        self.optimizer.apply_gradients([(g, w) for g, w in zip(grads, v) if g is not None])
        self.tracker.update_state(loss)
        return {"loss": self.tracker.result()}


@keras.saving.register_keras_serializable(package="dgpose_tf")
class MapperTrainer(_PhaseTrainer):
    """Offline Mapper training (§3): L2 between predicted and ground-truth heatmaps, Adam
    lr 1e-4 with coupled weight decay 5e-4 — the full model's hyper-parameters. Batches are
    dicts with ``pose_vector`` and ``heatmaps``.

    ``loss="bce"`` (an option, not the paper's): per-pixel binary cross-entropy of the sigmoid
    output against the heatmaps in [0, 1] (``keras.losses.binary_crossentropy``), whose gradient
    does not vanish where the sigmoid saturates. Measured at width 1/2 from the version-2 Mapper
    (held-out L2 0.0055 after 4,000 L2 steps): 750 more steps at lr 1e-3 lowered the held-out L2
    to 0.0022 with BCE, and 500 at the paper's lr 1e-4 with L2 only to 0.0052."""

    LOSSES = ("l2", "bce")

    def __init__(self, network, weight_decay=5e-4, loss="l2", **kwargs):
        super().__init__(network, weight_decay, **kwargs)
        if loss not in self.LOSSES:
            raise ValueError(f"the Mapper's loss must be one of {', '.join(self.LOSSES)}, "
                             f"got {loss!r}")
        self.loss_kind = loss

    def call(self, pose_vectors, training=False):
        return self.network(pose_vectors, training=training)

    def phase_loss(self, batch):
        pred = self.network(batch["pose_vector"], training=True)
        if self.loss_kind == "bce":
            return ops.mean(keras.losses.binary_crossentropy(batch["heatmaps"], pred))
        return ops.mean(ops.square(pred - batch["heatmaps"]))


@keras.saving.register_keras_serializable(package="dgpose_tf")
class PoseTrainer(_PhaseTrainer):
    """Supervised warm start of the pose head (a CPU-recipe step, not in the paper): the encoder's
    μ_y regressed onto the labels of the *labelled* samples only (``has_label``), the squared
    error averaged over each label's valid entries as the model's regression term, Adam with
    coupled weight decay. It runs at encoder-only cost: ~25× the images/s of a width-1/8 VAE-GAN
    step on the same CPU (485 vs 18 images/s measured side by side), on the labelled samples
    alone.

    ``map_weight`` > 0 (the :class:`PoseNetHead` only) adds, times this weight, each valid
    point's cross-entropy between its map's spatial softmax and a Gaussian of σ = ``map_sigma``
    cells at the label, normalised to a distribution (:func:`map_targets`) — the distribution
    supervision of integral regression (Sun et al. 2018 pair their coordinate loss with a
    heatmap loss; Nibali et al. 2018's DSNT with a divergence to a Gaussian): a soft-argmax
    trained on its coordinates alone gets a gradient only through the expectation, which a map
    split between two candidate places (a left and a right wrist) leaves nearly flat."""

    def __init__(self, network, weight_decay=5e-4, map_weight=0.0, map_sigma=1.0, **kwargs):
        super().__init__(network, weight_decay, **kwargs)
        self.map_weight, self.map_sigma = float(map_weight), float(map_sigma)
        if self.map_weight and getattr(network, "pose_from", None) != "residual":
            raise ValueError("map_weight needs an encoder with pose_from='residual' (its maps "
                             "are the PoseNetHead's)")

    def call(self, images, training=False):
        return self.network(images, training=training)[2]

    def phase_loss(self, batch):
        import tensorflow as tf

        # unlabelled samples never reach the network (a quarter-labelled batch costs a quarter);
        # a batch without labels keeps its first sample, weighted 0, so that BN sees no empty batch
        has = ops.cast(batch["has_label"], "bool")
        first = ops.arange(ops.shape(has)[0]) == 0
        keep = ops.logical_or(has, ops.logical_and(first, ops.logical_not(ops.any(has))))
        image, label, valid = (tf.boolean_mask(batch[k], keep)
                               for k in ("image", "pose_vector", "pose_mask"))
        weight = ops.cast(tf.boolean_mask(has, keep), "float32")
        if self.map_weight:
            logits = self.network.pose_net.logits(image, training=True)   # (B, S, S, 24)
            per_sample = (pose_regression_error(soft_argmax(logits), label, valid)
                          + self.map_weight * map_loss(logits, label, valid, self.map_sigma))
        else:
            mu_y = self.network(image, training=True)[2]
            per_sample = pose_regression_error(mu_y, label, valid)
        return ops.sum(weight * per_sample) / ops.maximum(ops.sum(weight), 1.0)


def map_loss(logits, label, valid, sigma=1.0):
    """Per sample ``(B,)``: the valid points' mean cross-entropy of their maps' spatial softmax
    to :func:`map_targets` (σ = ``sigma`` cells)."""
    log_p = ops.log_softmax(_per_point(ops.cast(logits, "float32")), -1)
    target = map_targets(label, logits.shape[1], sigma)               # (B, 24, S·S)
    point_valid = ops.cast(valid, "float32")[:, ::2]                  # (B, 24)
    ce = ops.sum(-ops.sum(target * log_p, -1) * point_valid, -1)
    return ce / ops.maximum(ops.sum(point_valid, -1), 1.0)


def map_targets(pose_vectors, size, sigma=1.0):
    """Each point of ``pose_vectors (B, 48)`` as a distribution over the cells of an S×S map
    ``(B, 24, S·S)``: a Gaussian of σ = ``sigma`` cells at the point, normalised to sum 1 (the
    cells' centres as in :func:`soft_argmax`)."""
    gx, gy = _cell_grid(size)
    u = ops.reshape(pose_vectors, (-1, Y_DIM // 2, 1, 2))
    d2 = ops.square(u[..., 0] - gx) + ops.square(u[..., 1] - gy)
    cell = 2.0 / size                                                   # a cell in [−1, 1] units
    logit = -d2 / (2.0 * (sigma * cell) ** 2)
    return ops.softmax(logit, -1)


def vector_to_joints(pose_vectors, size=IMAGE_SIZE):
    """The 14 joints in pixels ``(B, 14, 2)`` from pose vectors ``(B, 48)`` (tensor version of
    :func:`dgpose_tf.pose.pose_vector_to_joints`)."""
    u = ops.reshape(pose_vectors[:, :28], (-1, 14, 2))
    return ((u + 1.0) * size - 1.0) / 2.0


@keras.saving.register_keras_serializable(package="dgpose_tf")
class SemiDGPose(VAEGAN):
    """Encoder + frozen Mapper + decoder + discriminator, with the paper's applications.

    ``call(images)`` reconstructs with posterior means (deterministic), the mode used by tests and
    serving. All application methods take and return batches (tensors or arrays).

    Options beyond the paper (off by default): ``pose_from="heatmaps"`` or ``"residual"`` (μ_y
    by a fully convolutional :class:`PoseMapHead` or :class:`PoseNetHead`, see :class:`Encoder`)
    and ``background_stream`` (the appearance image kept outside a hole read off the Mapper's
    heatmaps of the estimated poses; :mod:`.background_stream`; ``hole_threshold`` /
    ``hole_dilation`` as Conditional-DGPose's); with it, ``part_colours`` (the appearance
    image's mean colour per heatmap channel of its pose, painted at the pose to draw, as 3 more
    decoder inputs: :func:`~.background_stream.part_colours`).
    """

    def __init__(self, width=1.0, mapper_width=None, sigma_init=None, pose_from="fc",
                 background_stream=False, hole_threshold=HOLE_THRESHOLD,
                 hole_dilation=HOLE_DILATION, part_colours=False, **kwargs):
        super().__init__(**kwargs)
        self.width = float(width)
        self.mapper_width = float(width if mapper_width is None else mapper_width)
        self.sigma_init = None if sigma_init is None else float(sigma_init)
        self.pose_from = pose_from
        self.background_stream = bool(background_stream)
        self.part_colours = bool(part_colours)
        self.pose_consistency = 0.0                    # compile's option
        if self.part_colours and not self.background_stream:
            raise ValueError("part_colours works in the background stream's hole: it needs "
                             "background_stream=True")
        self.hole_threshold, self.hole_dilation = check_hole_settings(hole_threshold,
                                                                      hole_dilation)
        self.encoder = Encoder(self.width, sigma_init=self.sigma_init, pose_from=pose_from,
                               name="encoder")
        self.mapper = Mapper(self.mapper_width, name="mapper")
        extra = (EXTRA_CHANNELS if self.background_stream else 0) + \
            (PART_COLOUR_CHANNELS if self.part_colours else 0)
        self.decoder = Decoder(self.width, extra_channels=extra, name="decoder")
        self.discriminator = Discriminator(self.width, name="discriminator")
        self.mapper.trainable = False    # trained offline first, then frozen (paper §3)
        self.alpha, self.gamma = 100.0, 1.0

    def build(self, input_shape=(None, IMAGE_SIZE, IMAGE_SIZE, 3)):
        self.encoder.build(input_shape)
        self.mapper.build((None, Y_DIM))
        self.decoder.build(((None, Z_DIM), (None, IMAGE_SIZE, IMAGE_SIZE, HEATMAP_CHANNELS),
                            (None, IMAGE_SIZE, IMAGE_SIZE, self.decoder.extra_channels)))
        self.discriminator.build(input_shape)
        self.built = True

    def get_config(self):
        config = {"width": self.width, "mapper_width": self.mapper_width,
                  "sigma_init": self.sigma_init, "name": self.name}
        if self.pose_from != "fc" or self.background_stream:     # files of earlier versions
            config.update(pose_from=self.pose_from, background_stream=self.background_stream,
                          hole_threshold=self.hole_threshold, hole_dilation=self.hole_dilation)
        if self.part_colours:
            config["part_colours"] = True
        return config

    def load_warm_start(self, path):
        """Load a ``.weights.h5`` of this model, of the same model without part colours, of the
        same model with the :class:`PoseMapHead` (for ``pose_from="residual"``), or of the
        paper's (FC pose head, no background stream) of the same widths: every shared weight is
        copied, the decoder's layer 8 gets zero weights on its new channels (training starts
        from the loaded model's pictures inside the hole) and a new pose head starts fresh
        (train it with the ``pose_warmup`` phase)."""
        if not self.built:
            self.build()
        try:
            return self.load_weights(path)
        except ValueError:
            if self.pose_from == "fc" and not self.background_stream:
                raise
        args = (self.width, self.mapper_width, self.sigma_init)
        stream = (True, self.hole_threshold, self.hole_dilation)
        twins = [SemiDGPose(*args)]
        if self.part_colours:
            twins.insert(0, SemiDGPose(*args, self.pose_from, *stream))
        if self.pose_from == "residual" and self.background_stream:   # the map head's files
            twins[:0] = [SemiDGPose(*args, "heatmaps", *stream, part_colours=colours)
                         for colours in ((True, False) if self.part_colours else (False,))]
        for twin in twins:
            twin.build()
            try:
                twin.load_weights(path)
                break
            except ValueError:
                if twin is twins[-1]:
                    raise
        fresh = grow_weights(self, twin, path, unused_ok=("encoder/mu_y/", "encoder/pose_map/"))
        print(f"grown from {path}: {len(fresh)} new variables "
              f"({', '.join(sorted({f.split('/')[1] for f in fresh})) or 'none'})")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # --- training --------------------------------------------------------------------------------
    LOSS_TERMS = ("loss", "l1", "kl_y", "kl_z", "pose_reg", "g_gan", "pose_consistency")

    def compile(self, optimizer=None, d_optimizer=None, alpha=100.0, gamma=1.0,
                weight_decay=5e-4, learning_rate=1e-4, alpha_per_pixel=False,
                pose_consistency=0.0, **kwargs):
        """Adam (lr 1e-4) for encoder+decoder and for the discriminator (see :class:`VAEGAN`,
        which also takes ``beta_1``, ``d_learning_rate``, ``label_smoothing``, ``kl_warmup``);
        α weighs the pose regression, γ the labelled samples.

        ``alpha_per_pixel``: α multiplies the regression on the scale of a per-pixel *mean* L1,
        i.e. the effective weight is α · H·W·C (= α · 12,288) against our pixel-*summed* L1. The
        paper does not say how its L1 is normalised; measured on a width-1/8 model, the encoder
        trunk's gradient from the summed L1 is 7.8·10⁵ times that of the regression at α = 1,
        so with α = 100 the pose head is swamped (PCK fell from 0.74 after the warm start to
        0.62 within 500 VAE-GAN steps at 100 % labels, 0.71 → 0.45 at 25 %), while α per pixel
        puts the two within a factor of ~1.5 — the "large α" the paper intends.

        ``pose_consistency`` (0: off, the paper's configuration): a CPU-recipe option that is not
        in the paper. Each training step also draws every sample in the next sample's pose (its
        own z, kept image and part colours — a transfer, which reconstruction alone never asks
        for); the model's own pose network (``pose_from="residual"``, in inference mode; it
        needs no label) must find that pose on the drawing — :func:`map_loss` times this
        weight — and the discriminator sees the drawing as fake too. Pose-guided generators of
        the field train transfers against a pose estimator or a pose-aware critic in the same
        way (e.g. Pumarola et al., CVPR 2018). Use it with the encoder frozen
        (``train.freeze``): the pose network is then a fixed judge the decoder must satisfy."""
        super().compile(optimizer, d_optimizer, weight_decay, learning_rate, **kwargs)
        pixels = IMAGE_SIZE * IMAGE_SIZE * 3 if alpha_per_pixel else 1
        self.alpha, self.gamma = float(alpha) * pixels, float(gamma)
        self.pose_consistency = float(pose_consistency)
        if self.pose_consistency < 0:
            raise ValueError(f"pose_consistency must be ≥ 0, got {pose_consistency}")
        if self.pose_consistency and self.encoder.pose_from != "residual":
            raise ValueError("pose_consistency needs pose_from='residual' (the PoseNetHead's "
                             "maps judge the drawings)")

    def generator_losses(self, batch, training=True):
        """Per-sample loss terms ``(B,)`` and the tensors they came from (for tests/inspection)."""
        import tensorflow as tf

        x = batch["image"]
        label = tf.cast(batch["pose_vector"], x.dtype)
        valid = tf.cast(batch.get("pose_mask", tf.ones_like(label)), x.dtype)
        has = tf.cast(batch["has_label"], x.dtype)
        q_y, q_z = self.posterior(x, training=training)
        y = tf.where(has[:, None] > 0, label,                 # labelled: the label, no gradient
                     q_y.sample(seed=self.noise_seed(0)))
        z = q_z.sample(seed=self.noise_seed(1))
        heatmaps = self.mapper(y, training=False)
        if self.background_stream:
            hole = training_hole(self.hole(heatmaps), self.noise_seed(2))
            painted = None
            if self.part_colours:      # the image's own colours; none where all is hole
                whole = tf.reduce_min(hole, [1, 2, 3], keepdims=True) > 0.999
                painted = tf.where(whole, 0.0, part_colours(x, heatmaps, heatmaps))
            x_hat = fill(self.decoder, z, heatmaps, x, hole, training, painted)
        else:
            x_hat = self.decoder([z, heatmaps], training=training)
        kl_z = _tfd().kl_divergence(q_z, self.prior(Z_DIM, x.dtype))
        kl_y = (1.0 - has) * _tfd().kl_divergence(q_y, self.prior(Y_DIM, x.dtype))
        pose_reg = has * self.alpha * pose_regression_error(q_y.mean(), label, valid)
        l1 = tf.reduce_sum(tf.abs(x - x_hat), [1, 2, 3])
        fakes = x_hat
        consistency = tf.zeros_like(l1)
        if self.pose_consistency:
            x_swap, y_to = self._swapped(x, y, z, heatmaps, training)
            logits = self.encoder.pose_net.logits(x_swap, training=False)
            # an unlabelled sample's pose is its estimate, every point of it asked for
            asked = tf.where(has[:, None] > 0, valid, tf.ones_like(valid))
            consistency = self.pose_consistency * map_loss(logits, y_to, tf.roll(asked, 1, 0))
            fakes = tf.concat([x_hat, x_swap], 0)
        d_fake = tf.reshape(self.discriminator(fakes, training=training)[:, 0],
                            [-1, tf.shape(x)[0]])
        g_gan = tf.reduce_mean(non_saturating_gan(d_fake), 0)   # over the reconstruction (+ swap)
        weight = 1.0 + (self.gamma - 1.0) * has               # γ on labelled samples
        total = weight * (self.kl_weight() * (kl_z + kl_y) + pose_reg + l1 + g_gan) + consistency
        return {"loss": total, "l1": l1, "kl_y": kl_y, "kl_z": kl_z, "pose_reg": pose_reg,
                "g_gan": g_gan, "pose_consistency": consistency, "y_decoded": y, "x_hat": x_hat,
                "x_fake": fakes}

    def _swapped(self, x, y, z, heatmaps, training):
        """Each sample drawn in the next sample's pose (``y`` rolled by one, no gradient):
        ``(drawing, the pose it should show)``; with the stream, the image kept outside both
        poses' holes and its part colours painted at the new pose, as a transfer."""
        import tensorflow as tf

        y_to = tf.stop_gradient(tf.roll(y, 1, 0))
        to = self.mapper(y_to, training=False)
        if not self.background_stream:
            return self.decoder([z, to], training=training), y_to
        return draw(self.decoder, z, to, self.hole, x, heatmaps, training,
                    self.part_colours), y_to

    # --- distributions -------------------------------------------------------------------------
    def posterior(self, images, training=False):
        """``(q(y|x), q(z|x))`` as ``tfd.MultivariateNormalDiag``."""
        _check_images(images)
        mu_z, s_z, mu_y, s_y = self.encoder(images, training=training)
        tfd = _tfd()
        return (tfd.MultivariateNormalDiag(mu_y, s_y), tfd.MultivariateNormalDiag(mu_z, s_z))

    # --- applications --------------------------------------------------------------------------
    def hole(self, heatmaps):
        """:func:`~.background_stream.body_hole` with this model's threshold and dilation."""
        return body_hole(heatmaps, self.hole_threshold, self.hole_dilation)

    def generate(self, pose_vectors, z, training=False, images=None, source_pose=None):
        """G(y, z): decode pose vectors (through the Mapper) and appearance codes. With the
        background stream, ``images`` (in the pose ``source_pose``) give the background outside
        the hole of both poses; without them the hole is the whole image."""
        heatmaps = self.mapper(pose_vectors, training=False)
        if not self.background_stream:
            return self.decoder([z, heatmaps], training=training)
        source = None
        if images is not None:
            _check_images(images)
            if source_pose is None:
                raise ValueError("the background stream needs the appearance images' own pose "
                                 "(source_pose) to cut their person out")
            source = self.mapper(source_pose, training=False)
        return draw(self.decoder, z, heatmaps, self.hole, images, source, training,
                    self.part_colours)

    def encode(self, images, deterministic=True):
        """``(y, z)``: posterior means, or one reparameterised sample each."""
        q_y, q_z = self.posterior(images)
        return (q_y.mean(), q_z.mean()) if deterministic else (q_y.sample(), q_z.sample())

    def call(self, images, training=False):
        y, z = self.encode(images)
        return self.generate(y, z, training=training, images=images, source_pose=y)

    def preview(self, batch):
        """``(reconstructions, estimated joints)`` of a batch, for training image summaries."""
        return self.reconstruct(batch["image"]), self.estimate_pose(batch["image"])

    def estimate_pose(self, images):
        """The 14 Semi-DGPose joints in pixels of the 64×64 image, ``(B, 14, 2)``."""
        return vector_to_joints(self.encode(images)[0])

    def reconstruct(self, images, deterministic=True):
        y, z = self.encode(images, deterministic)
        return self.generate(y, z, images=images, source_pose=y)

    def manipulate(self, images, scale=1.0):
        """Direct pose manipulation (Fig. 8): every pose-vector centre scaled by ``scale`` (a
        number, or one per image) about the body centre (the last two entries), appearance
        kept."""
        y, z = self.encode(images)
        pts = ops.reshape(y, (-1, Y_DIM // 2, 2))
        centre = pts[:, -1:, :]
        scale = ops.reshape(ops.cast(scale, pts.dtype), (-1, 1, 1))
        return self.generate(ops.reshape(centre + scale * (pts - centre), (-1, Y_DIM)), z,
                             images=images, source_pose=y)

    def transfer(self, pose_images, appearance_images):
        """Indirect pose transfer (Fig. 13): pose of the first images, appearance of the second."""
        y, _ = self.encode(pose_images)
        y_a, z = self.encode(appearance_images)
        return self.generate(y, z, images=appearance_images, source_pose=y_a)

    def sample(self, n, pose=None, appearance=None, seed=None):
        """``n`` images with y ~ p(y) and z ~ p(z), or either fixed (Fig. 5): ``pose`` is a pose
        vector (48,) or (n, 48), ``appearance`` a code (100,) or (n, 100)."""
        def fixed(value, dim):
            v = ops.convert_to_tensor(value, "float32")
            if v.shape[-1] != dim:
                raise ValueError(f"expected vectors of {dim} values, got shape {tuple(v.shape)}")
            return ops.broadcast_to(ops.reshape(v, (-1, dim)), (n, dim))
        y = self.prior(Y_DIM).sample(n, seed=seed) if pose is None else fixed(pose, Y_DIM)
        z = self.prior(Z_DIM).sample(n, seed=None if seed is None else seed + 1) \
            if appearance is None else fixed(appearance, Z_DIM)
        return self.generate(y, z)

    # --- serving ---------------------------------------------------------------------------------
    SERVING_DEFAULT = "estimate_pose"

    def serving_endpoints(self):
        """``{name: (function, input specs)}`` of the SavedModel signatures (deterministic:
        posterior means; ``sample`` draws from p(y), p(z) with a stateless seed)."""
        import tensorflow as tf

        img = lambda name: tf.TensorSpec((None, IMAGE_SIZE, IMAGE_SIZE, 3), tf.float32, name)

        def sample(n, seed):
            y = tf.random.stateless_normal(tf.stack([n, Y_DIM]), tf.stack([seed, 0]))
            z = tf.random.stateless_normal(tf.stack([n, Z_DIM]), tf.stack([seed, 1]))
            return {"images": self.generate(y, z), "pose_vector": y, "appearance": z}

        def encode(images):
            y, z = self.encode(images)
            return {"pose_vector": y, "appearance": z}

        def estimate_pose(images):
            y = self.encode(images)[0]
            return {"joints": vector_to_joints(y), "pose_vector": y}

        return {
            "estimate_pose": (estimate_pose, [img("images")]),
            "reconstruct": (lambda images: {"images": self.reconstruct(images)},
                            [img("images")]),
            "encode": (encode, [img("images")]),
            "generate": (lambda pose_vector, appearance:
                         {"images": self.generate(pose_vector, appearance)},
                         [tf.TensorSpec((None, Y_DIM), tf.float32, "pose_vector"),
                          tf.TensorSpec((None, Z_DIM), tf.float32, "appearance")]),
            "manipulate": (lambda images, scale: {"images": self.manipulate(images, scale)},
                           [img("images"), tf.TensorSpec((None,), tf.float32, "scale")]),
            "transfer": (lambda pose_images, appearance_images:
                         {"images": self.transfer(pose_images, appearance_images)},
                         [img("pose_images"), img("appearance_images")]),
            "sample": (sample, [tf.TensorSpec((), tf.int32, "n"),
                                tf.TensorSpec((), tf.int32, "seed")]),
        }
