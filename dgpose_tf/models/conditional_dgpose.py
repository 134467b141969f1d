"""Conditional-DGPose (de Bem et al., IJCV 2020): a conditional VAE-GAN on pose heatmaps.

The encoder sees the image together with its 24 pose heatmaps and gives q(z|x, h); the decoder
sees z and the heatmaps; a discriminator judges real images vs reconstructions. Loss (slides,
"Architecture of Conditional-DGPose"): KL(q(z|x, h)‖p(z)) + L1 + adversarial, fully supervised.

The slides give no layer table for this model, so it reuses Semi-DGPose's blocks (Table A1),
stated here once:

* encoder = Semi-DGPose's encoder (layers 1–10, μ_z/σ_z heads, no y heads) on the 27-channel
  concatenation image ⊕ heatmaps — the usual way a CVAE encoder is conditioned on a spatial map;
* decoder = Semi-DGPose's decoder (z up to 32×32, concatenated with the heatmaps at 64×64);
* discriminator = Semi-DGPose's discriminator (unconditional, as the slides draw it);
* p(z) = N(0, I), z of 100 dimensions; ``sigma_init`` as Semi-DGPose's (the σ head's starting
  scale); L1 summed over pixels; non-saturating GAN term; Adam
  lr 1e-4, coupled weight decay 5e-4 (the Semi-DGPose settings; see :mod:`.vaegan`).

Heatmaps are the 24-channel Semi-DGPose representation in [0, 1]
(:func:`dgpose_tf.pose.semi_dgpose_heatmaps`; :func:`heatmaps_from_joints` here).

Background stream (``background_stream=True``; off in the paper configuration). The slides'
decoder redraws the whole picture from z (100 numbers) and the pose, so a transfer loses the
appearance image's background even where neither person stands — measured on the width-1/4
entry: with the true background pasted in, its transfers score SSIM 0.817 against copying the
appearance image's 0.796, with the true person pasted in 0.788 against 0.843. Pose-transfer
models since Balakrishnan et al. (CVPR 2018) keep the background apart: it is copied from the
source where no person is and only the person's region is generated. This option does that
(:mod:`.background_stream`, shared with Semi-DGPose) with a hole read off the pose heatmaps
(``body_hole``: the heatmaps' maximum above ``hole_threshold``, dilated by a ``hole_dilation``
window, edges softened by 3×3). Defaults 0.7 and 3: the hole covers 98.3 % of the renderer's
person pixels on training people and 20 % of the image per pose (0.5 and 5: 99.9 % and 30 %).
Measured on 256 validation transfers of a model trained with 0.5 / 5: whole-image SSIM 0.708
with that hole, 0.735 with 0.7 / 3, 0.742 with 0.7 / 1 (covering 96.4 %), masked SSIM 0.281 /
0.284 / 0.292 — where the hole is larger than the person the decoder's background is worse than
the copied one, so the default is the tightest hole that still covers ~98 % of the person.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from ..pose.heatmaps import semi_dgpose_heatmaps
from .background_stream import (EXTRA_CHANNELS, HOLE_DILATION, HOLE_THRESHOLD, body_hole,
                                check_hole_settings, draw, fill, grow_weights,
                                training_hole)
from .semi_dgpose import (HEATMAP_CHANNELS, IMAGE_SIZE, Z_DIM, Decoder, Discriminator, Encoder,
                          _check_images)
from .vaegan import VAEGAN, non_saturating_gan, tfd

__all__ = ["ConditionalDGPose", "body_hole", "heatmaps_from_joints"]

def heatmaps_from_joints(joints, visible=None, size=IMAGE_SIZE):
    """The 24 condition heatmaps ``(B, 64, 64, 24)`` of 14 Semi-DGPose joints ``(B, 14, 2)``
    given in pixels of a ``size``×``size`` image."""
    joints = np.asarray(joints, np.float32) * (IMAGE_SIZE / float(size))
    return semi_dgpose_heatmaps(joints, visible, IMAGE_SIZE).astype(np.float32)


def _check_heatmaps(heatmaps, images=None):
    shape = tuple(heatmaps.shape)
    if len(shape) != 4 or shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, HEATMAP_CHANNELS):
        raise ValueError(f"Conditional-DGPose takes heatmaps of shape (batch, {IMAGE_SIZE}, "
                         f"{IMAGE_SIZE}, {HEATMAP_CHANNELS}); got {shape}")
    if images is not None and images.shape[0] is not None and shape[0] is not None \
            and images.shape[0] != shape[0]:
        raise ValueError(f"{images.shape[0]} images but {shape[0]} heatmaps")


@keras.saving.register_keras_serializable(package="dgpose_tf")
class ConditionalDGPose(VAEGAN):
    """Encoder q(z|x, h) + decoder G(z, h) + discriminator, with the slides' applications.

    ``call((images, heatmaps))`` reconstructs with the posterior mean (deterministic).
    """

    LOSS_TERMS = ("loss", "l1", "kl_z", "g_gan")

    def __init__(self, width=1.0, sigma_init=None, background_stream=False,
                 hole_threshold=HOLE_THRESHOLD, hole_dilation=HOLE_DILATION, **kwargs):
        super().__init__(**kwargs)
        self.hole_threshold, self.hole_dilation = check_hole_settings(hole_threshold,
                                                                      hole_dilation)
        self.width = float(width)
        self.sigma_init = None if sigma_init is None else float(sigma_init)
        self.background_stream = bool(background_stream)
        self.encoder = Encoder(self.width, pose_head=False, sigma_init=self.sigma_init,
                               name="encoder")
        self.decoder = Decoder(self.width, extra_channels=EXTRA_CHANNELS if self.background_stream else 0,
                               name="decoder")
        self.discriminator = Discriminator(self.width, name="discriminator")

    def build(self, input_shape=None):
        self.encoder.build((None, IMAGE_SIZE, IMAGE_SIZE, 3 + HEATMAP_CHANNELS))
        self.decoder.build(((None, Z_DIM), (None, IMAGE_SIZE, IMAGE_SIZE, HEATMAP_CHANNELS),
                            (None, IMAGE_SIZE, IMAGE_SIZE, EXTRA_CHANNELS)))
        self.discriminator.build((None, IMAGE_SIZE, IMAGE_SIZE, 3))
        self.built = True

    def load_warm_start(self, path):
        """Load a ``.weights.h5`` of this model, or — with the background stream — of the same
        model without it: every weight is copied and layer 8's kernel gets zero weights for the
        4 new input channels, so training starts from exactly the loaded model's pictures
        inside the hole."""
        if not self.built:
            self.build()
        try:
            return self.load_weights(path)
        except ValueError:
            if not self.background_stream:
                raise                               # else a file without the stream: grow it
        twin = ConditionalDGPose(self.width, self.sigma_init, background_stream=False)
        twin.build()
        twin.load_weights(path)
        grow_weights(self, twin, path)

    def get_config(self):
        return {"width": self.width, "sigma_init": self.sigma_init,
                "background_stream": self.background_stream,
                "hole_threshold": self.hole_threshold, "hole_dilation": self.hole_dilation,
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def generator_losses(self, batch, training=True):
        """Per-sample KL + L1 + GAN ``(B,)`` and the reconstructions."""
        x = batch["image"]
        h = ops.cast(batch["heatmaps"], x.dtype)
        q_z = self.posterior(x, h, training=training)
        z = q_z.sample(seed=self.noise_seed(0))
        if self.background_stream:
            hole = training_hole(self.hole(h), self.noise_seed(1))
            x_hat = fill(self.decoder, z, h, x, hole, training)
        else:
            x_hat = self.decoder([z, h], training=training)
        kl_z = tfd().kl_divergence(q_z, self.prior(Z_DIM, x.dtype))
        l1 = ops.sum(ops.abs(x - x_hat), [1, 2, 3])
        g_gan = non_saturating_gan(self.discriminator(x_hat, training=training)[:, 0])
        return {"loss": self.kl_weight() * kl_z + l1 + g_gan, "l1": l1, "kl_z": kl_z,
                "g_gan": g_gan,
                "x_hat": x_hat}

    # --- distributions and applications ---------------------------------------------------------
    def posterior(self, images, heatmaps, training=False):
        """q(z|x, h) as a ``tfd.MultivariateNormalDiag``."""
        _check_images(images)
        _check_heatmaps(heatmaps, images)
        mu, sigma = self.encoder(ops.concatenate([images, ops.cast(heatmaps, images.dtype)], -1),
                                 training=training)
        return tfd().MultivariateNormalDiag(mu, sigma)

    def encode(self, images, heatmaps, deterministic=True):
        """Appearance codes z: posterior means, or one reparameterised sample."""
        q_z = self.posterior(images, heatmaps)
        return q_z.mean() if deterministic else q_z.sample()

    def hole(self, heatmaps):
        """:func:`body_hole` with this model's threshold and dilation."""
        return body_hole(heatmaps, self.hole_threshold, self.hole_dilation)

    def generate(self, heatmaps, z, training=False, images=None, source_heatmaps=None):
        """G(z, h). With the background stream, ``images`` (posed as ``source_heatmaps``) give
        the background outside the hole of both poses; without them the hole is the whole
        image."""
        _check_heatmaps(heatmaps)
        if not self.background_stream:
            return self.decoder([z, heatmaps], training=training)
        if images is not None:
            _check_images(images)
            if source_heatmaps is None:
                raise ValueError("the background stream needs the appearance images' own pose "
                                 "heatmaps (source_heatmaps) to cut their person out")
            _check_heatmaps(source_heatmaps, images)
        return draw(self.decoder, z, heatmaps, self.hole, images, source_heatmaps, training)

    def call(self, inputs, training=False):
        images, heatmaps = inputs
        return self.generate(heatmaps, self.encode(images, heatmaps), training=training,
                             images=images, source_heatmaps=heatmaps)

    def preview(self, batch):
        """``(reconstructions, conditioning joints)`` of a batch, for training image summaries."""
        return self.reconstruct(batch["image"], batch["heatmaps"]), batch["joints"]

    def reconstruct(self, images, heatmaps, deterministic=True):
        """Reconstruction in the same pose (slides, application 1)."""
        return self.generate(heatmaps, self.encode(images, heatmaps, deterministic),
                             images=images, source_heatmaps=heatmaps)

    def transfer(self, images, heatmaps, target_heatmaps):
        """Pose transfer / manipulation (application 2): the people of ``images`` (in the pose of
        ``heatmaps``) redrawn in the pose of ``target_heatmaps``."""
        return self.generate(target_heatmaps, self.encode(images, heatmaps), images=images,
                             source_heatmaps=heatmaps)

    def sample(self, heatmaps, seed=None):
        """Conditional generation (application 3): one new person per heatmap set, z ~ p(z)."""
        z = self.prior(Z_DIM).sample(ops.shape(heatmaps)[0], seed=seed)
        return self.generate(heatmaps, z)

    # --- serving ---------------------------------------------------------------------------------
    SERVING_DEFAULT = "reconstruct"

    def serving_endpoints(self):
        """``{name: (function, input specs)}`` of the SavedModel signatures (deterministic:
        posterior means; ``sample`` draws z ~ p(z) with a stateless seed)."""
        import tensorflow as tf

        img = lambda name: tf.TensorSpec((None, IMAGE_SIZE, IMAGE_SIZE, 3), tf.float32, name)
        hm = lambda name: tf.TensorSpec((None, IMAGE_SIZE, IMAGE_SIZE, HEATMAP_CHANNELS),
                                        tf.float32, name)

        def sample(heatmaps, seed):
            z = tf.random.stateless_normal(tf.stack([tf.shape(heatmaps)[0], Z_DIM]),
                                           tf.stack([seed, 1]))
            return {"images": self.generate(heatmaps, z), "appearance": z}

        return {
            "reconstruct": (lambda images, heatmaps:
                            {"images": self.reconstruct(images, heatmaps)},
                            [img("images"), hm("heatmaps")]),
            "transfer": (lambda images, heatmaps, target_heatmaps:
                         {"images": self.transfer(images, heatmaps, target_heatmaps)},
                         [img("images"), hm("heatmaps"), hm("target_heatmaps")]),
            "encode": (lambda images, heatmaps: {"appearance": self.encode(images, heatmaps)},
                       [img("images"), hm("heatmaps")]),
            "generate": (lambda heatmaps, appearance:
                         {"images": self.generate(heatmaps, appearance)},
                         [hm("heatmaps"), tf.TensorSpec((None, Z_DIM), tf.float32,
                                                        "appearance")]),
            "sample": (sample, [hm("heatmaps"), tf.TensorSpec((), tf.int32, "seed")]),
        }
