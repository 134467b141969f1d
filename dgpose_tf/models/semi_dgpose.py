"""Semi-DGPose (de Bem et al., ECCV Workshops 2018): networks of Table A1/A2 and the applications.

Images are 64×64×3 in [−1, 1] (the decoder's tanh range), channels-last. Every layer follows
Table A1 at ``width = 1.0``; ``width`` scales the hidden channel counts for CPU-sized variants
(the latent sizes — z 100, y 48 — and the 24 heatmap / 3 image channels are never scaled).

Choices where the paper is silent (stated here once):
* σ heads: the FC output passes through softplus (+1e-4) to give a positive scale;
* FC layers use Keras's Glorot-uniform initialisation (He initialisation is stated for conv and
  deconv layers only);
* priors p(y) = p(z) = N(0, I) ("weak Gaussian priors");
* BN epsilon 1e-5 (see :mod:`dgpose_tf.layers`).

q(y|x), q(z|x), p(y), p(z) are ``tfd.MultivariateNormalDiag`` distributions.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from ..layers import ConvBlock, ResidualBlock, scaled
from ..pose.heatmaps import POSE_VECTOR_DIM

__all__ = ["IMAGE_SIZE", "Z_DIM", "Y_DIM", "HEATMAP_CHANNELS", "Encoder", "Mapper", "Decoder",
           "Discriminator", "SemiDGPose", "vector_to_joints"]

IMAGE_SIZE = 64
Z_DIM = 100
Y_DIM = POSE_VECTOR_DIM          # 48
HEATMAP_CHANNELS = 24


def _tfd():
    import tensorflow_probability as tfp
    return tfp.distributions


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


@keras.saving.register_keras_serializable(package="dgpose_tf")
class Encoder(_Net):
    """x → (μ_z, σ_z, μ_y, σ_y): Table A1, layers 1–10 and the four FC heads."""

    def __init__(self, width=1.0, **kwargs):
        super().__init__(width, **kwargs)
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
        self.sigma_z = layers.Dense(Z_DIM, name="sigma_z")
        self.mu_y = layers.Dense(Y_DIM, name="mu_y")
        self.sigma_y = layers.Dense(Y_DIM, name="sigma_y")

    def build(self, input_shape=(None, IMAGE_SIZE, IMAGE_SIZE, 3)):
        shape = _build_chain(self.blocks, tuple(input_shape))
        flat = (shape[0], shape[1] * shape[2] * shape[3])
        for head in (self.mu_z, self.sigma_z, self.mu_y, self.sigma_y):
            head.build(flat)
        self.built = True

    def features(self, x, training=None):
        """The 1×1×512 feature after layer 10 (sigmoid applied)."""
        for block in self.blocks:
            x = block(x, training=training)
        return ops.sigmoid(x)

    def call(self, images, training=None):
        h = self.flatten(self.features(images, training=training))
        return (self.mu_z(h), ops.softplus(self.sigma_z(h)) + 1e-4,
                self.mu_y(h), ops.softplus(self.sigma_y(h)) + 1e-4)


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
        _build_chain(self.blocks, (input_shape[0], 1, 1, Y_DIM))
        self.built = True

    def call(self, pose_vectors, training=None):
        x = self.reshape(pose_vectors)
        for block in self.blocks:
            x = block(x, training=training)
        return x


@keras.saving.register_keras_serializable(package="dgpose_tf")
class Decoder(_Net):
    """(z (100), heatmaps 64×64×24) → image 64×64×3 in [−1, 1] (Table A1 "Decoder")."""

    def __init__(self, width=1.0, **kwargs):
        super().__init__(width, **kwargs)
        w = self.width
        self.reshape = layers.Reshape((1, 1, Z_DIM), name="reshape")
        self.up = _deconv_stack(w, "deconv") + [
            ConvBlock(scaled(128, w), 4, 2, 1, transpose=True, batch_norm=True,
                      activation="leaky_relu", slope=0.2, name="deconv6")]
        self.concat = layers.Concatenate(name="concat7")
        self.convs = [ConvBlock(scaled(c, w), 5, 1, 2, batch_norm=True, activation="leaky_relu",
                                slope=0.2, name=f"conv{i}")
                      for i, c in zip((8, 9, 10, 11), (512, 256, 128, 128))]
        self.out = ConvBlock(3, 5, 1, 2, activation="tanh", name="image")

    def build(self, input_shape=((None, Z_DIM), (None, IMAGE_SIZE, IMAGE_SIZE, HEATMAP_CHANNELS))):
        z_shape, h_shape = input_shape
        n, hh, ww, c = _build_chain(self.up, (z_shape[0], 1, 1, Z_DIM))
        shape = _build_chain(self.convs, (n, hh, ww, c + h_shape[-1]))
        self.out.build(shape)
        self.built = True

    def call(self, inputs, training=None):
        z, heatmaps = inputs
        x = self.reshape(z)
        for block in self.up:
            x = block(x, training=training)
        x = self.concat([x, heatmaps])
        for block in self.convs:
            x = block(x, training=training)
        return self.out(x, training=training)


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
        _build_chain(self.blocks, tuple(input_shape))
        self.built = True

    def call(self, images, training=None):
        x = images
        for block in self.blocks:
            x = block(x, training=training)
        return self.flatten(x)


def vector_to_joints(pose_vectors, size=IMAGE_SIZE):
    """The 14 joints in pixels ``(B, 14, 2)`` from pose vectors ``(B, 48)`` (tensor version of
    :func:`dgpose_tf.pose.pose_vector_to_joints`)."""
    u = ops.reshape(pose_vectors[:, :28], (-1, 14, 2))
    return ((u + 1.0) * size - 1.0) / 2.0


@keras.saving.register_keras_serializable(package="dgpose_tf")
class SemiDGPose(keras.Model):
    """Encoder + frozen Mapper + decoder + discriminator, with the paper's applications.

    ``call(images)`` reconstructs with posterior means (deterministic), the mode used by tests and
    serving. All application methods take and return batches (tensors or arrays).
    """

    def __init__(self, width=1.0, mapper_width=None, **kwargs):
        super().__init__(**kwargs)
        self.width = float(width)
        self.mapper_width = float(width if mapper_width is None else mapper_width)
        self.encoder = Encoder(self.width, name="encoder")
        self.mapper = Mapper(self.mapper_width, name="mapper")
        self.decoder = Decoder(self.width, name="decoder")
        self.discriminator = Discriminator(self.width, name="discriminator")
        self.mapper.trainable = False    # trained offline first, then frozen (paper §3)

    def build(self, input_shape=(None, IMAGE_SIZE, IMAGE_SIZE, 3)):
        self.encoder.build(input_shape)
        self.mapper.build((None, Y_DIM))
        self.decoder.build(((None, Z_DIM), (None, IMAGE_SIZE, IMAGE_SIZE, HEATMAP_CHANNELS)))
        self.discriminator.build(input_shape)
        self.built = True

    def get_config(self):
        return {"width": self.width, "mapper_width": self.mapper_width, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # --- distributions -------------------------------------------------------------------------
    def posterior(self, images, training=False):
        """``(q(y|x), q(z|x))`` as ``tfd.MultivariateNormalDiag``."""
        _check_images(images)
        mu_z, s_z, mu_y, s_y = self.encoder(images, training=training)
        tfd = _tfd()
        return (tfd.MultivariateNormalDiag(mu_y, s_y), tfd.MultivariateNormalDiag(mu_z, s_z))

    @staticmethod
    def prior(dim, dtype="float32"):
        tfd = _tfd()
        return tfd.MultivariateNormalDiag(ops.zeros((dim,), dtype), ops.ones((dim,), dtype))

    # --- applications --------------------------------------------------------------------------
    def generate(self, pose_vectors, z, training=False):
        """G(y, z): decode pose vectors (through the Mapper) and appearance codes."""
        return self.decoder([z, self.mapper(pose_vectors, training=False)], training=training)

    def encode(self, images, deterministic=True):
        """``(y, z)``: posterior means, or one reparameterised sample each."""
        q_y, q_z = self.posterior(images)
        return (q_y.mean(), q_z.mean()) if deterministic else (q_y.sample(), q_z.sample())

    def call(self, images, training=False):
        y, z = self.encode(images)
        return self.generate(y, z, training=training)

    def estimate_pose(self, images):
        """The 14 Semi-DGPose joints in pixels of the 64×64 image, ``(B, 14, 2)``."""
        return vector_to_joints(self.encode(images)[0])

    def reconstruct(self, images, deterministic=True):
        y, z = self.encode(images, deterministic)
        return self.generate(y, z)

    def manipulate(self, images, scale=1.0):
        """Direct pose manipulation (Fig. 8): every pose-vector centre scaled by ``scale`` about
        the body centre (the last two entries), appearance kept."""
        y, z = self.encode(images)
        pts = ops.reshape(y, (-1, Y_DIM // 2, 2))
        centre = pts[:, -1:, :]
        return self.generate(ops.reshape(centre + scale * (pts - centre), (-1, Y_DIM)), z)

    def transfer(self, pose_images, appearance_images):
        """Indirect pose transfer (Fig. 13): pose of the first images, appearance of the second."""
        y, _ = self.encode(pose_images)
        _, z = self.encode(appearance_images)
        return self.generate(y, z)

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
