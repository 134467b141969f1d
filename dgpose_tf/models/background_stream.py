"""The background stream shared by the two DGPose families (an option, off in both papers).

Both papers' decoders redraw the whole picture from z (100 numbers) and the pose, so a transfer
loses the appearance image's background even where neither person stands. Pose-transfer models
since Balakrishnan et al. (CVPR 2018) keep the background apart: it is copied from the source
where no person is and only the person's region is generated. Here the region is a *hole* read
off 24-channel pose heatmaps (:func:`body_hole`); the decoder (Table A1's, with
``extra_channels=4``) also sees the appearance image with the hole of the source ∪ target poses
cut out, and the hole, at layer 7; its output fills the hole and the source's pixels are kept
outside (:func:`fill`). Training cuts the hole of the image's own pose ∪ another person's pose of
the batch, so that the decoder learns to fill with background too (the source's place after a
transfer), and one sample in 8 with the whole image as the hole — what sampling without an
appearance image asks for (:func:`training_hole`).

Measurements behind the defaults are in :mod:`.conditional_dgpose` (where the stream was first
grown) and on the zoo cards. :func:`grow_weights` starts a model with the stream from a file of
the same model without it: every weight copied, layer 8 gets zero weights on the 4 new input
channels, so training starts from exactly the loaded model's pictures inside the hole.
"""

from __future__ import annotations

import numpy as np
from keras import ops

__all__ = ["HOLE_THRESHOLD", "HOLE_DILATION", "HOLE_SOFTEN", "FULL_HOLE_FRACTION",
           "EXTRA_CHANNELS", "body_hole", "check_hole_settings", "training_hole", "fill",
           "empty_background", "draw", "grow_weights"]

HOLE_THRESHOLD, HOLE_DILATION, HOLE_SOFTEN = 0.7, 3, 3
FULL_HOLE_FRACTION = 1 / 8         # training samples whose hole is the whole image
EXTRA_CHANNELS = 4                 # the kept image (3) and the hole (1)


def body_hole(heatmaps, threshold=HOLE_THRESHOLD, dilation=HOLE_DILATION):
    """Where a person of these pose heatmaps may be: ``(B, 64, 64, 1)`` in [0, 1] (1 inside).

    The maximum over the 24 heatmaps above ``threshold``, dilated by a ``dilation``-pixel
    window, its edge softened by a ``HOLE_SOFTEN`` box filter."""
    import tensorflow as tf

    peak = tf.reduce_max(tf.cast(heatmaps, tf.float32), -1, keepdims=True)
    hard = tf.nn.max_pool2d(tf.cast(peak > threshold, tf.float32), int(dilation), 1, "SAME")
    return tf.nn.avg_pool2d(hard, HOLE_SOFTEN, 1, "SAME")


def check_hole_settings(threshold, dilation):
    """``(threshold, dilation)`` as float and int, or a named error."""
    threshold, dilation = float(threshold), int(dilation)
    if not 0.0 < threshold < 1.0 or dilation < 1:
        raise ValueError(f"hole_threshold must be in (0, 1) and hole_dilation ≥ 1, got "
                         f"{threshold}, {dilation}")
    return threshold, dilation


def training_hole(own, seed):
    """The hole a training batch is cut with: each sample's own hole ∪ the previous sample's
    (rolled), and for :data:`FULL_HOLE_FRACTION` of the samples the whole image."""
    import tensorflow as tf

    hole = tf.maximum(own, tf.roll(own, 1, 0))
    full = tf.random.stateless_uniform(tf.shape(hole)[:1], seed) < FULL_HOLE_FRACTION
    return tf.where(full[:, None, None, None], tf.ones_like(hole), hole)


def fill(decoder, z, heatmaps, images, hole, training=False):
    """The decoder fills ``hole`` and ``images`` are kept outside it."""
    images = ops.cast(images, "float32")
    kept = images * (1.0 - hole)
    out = decoder([z, heatmaps, ops.cast(ops.concatenate([kept, hole], -1), heatmaps.dtype)],
                  training=training)
    return hole * out + kept


def empty_background(heatmaps):
    """``(images, hole)`` for drawing without an appearance image: black, all hole."""
    hole = ops.ones_like(heatmaps[..., :1], dtype="float32")
    return ops.tile(0.0 * hole, [1, 1, 1, 3]), hole


def draw(decoder, z, heatmaps, hole_of, images=None, source_heatmaps=None, training=False):
    """A decoder with the stream draws the pose ``heatmaps``: ``images`` (posed as
    ``source_heatmaps``) kept outside ``hole_of``\ (target) ∪ ``hole_of``\ (source); without
    ``images`` the whole picture is drawn. The callers check their inputs first."""
    if images is None:
        return fill(decoder, z, heatmaps, *empty_background(heatmaps), training)
    hole = ops.maximum(hole_of(heatmaps), hole_of(source_heatmaps))
    return fill(decoder, z, heatmaps, images, hole, training)


def grow_weights(model, donor, path, unused_ok=()):
    """Copy ``donor``'s weights (a built model loaded from ``path``) into ``model`` by variable
    path. A 4-D kernel with :data:`EXTRA_CHANNELS` more input channels (layer 8 of a decoder
    with the stream) gets zero weights on them; variables the donor lacks (new heads) keep their
    initialisation; donor variables whose path starts with one of ``unused_ok`` may be left
    behind (any other is a named error). Returns the paths left at their initialisation."""
    def key(v):
        return v.path.split("/", 1)[-1]

    theirs = {key(w): w for w in donor.weights}
    fresh = []
    for v in model.weights:
        w = theirs.pop(key(v), None)
        if w is None:
            fresh.append(key(v))
            continue
        w = np.asarray(w.numpy())
        if tuple(v.shape) != w.shape:
            grown = (len(w.shape) == 4 and v.shape[2] == w.shape[2] + EXTRA_CHANNELS
                     and tuple(v.shape[:2]) + tuple(v.shape[3:]) == w.shape[:2] + w.shape[3:])
            if not grown:
                raise ValueError(f"{path}: {key(v)} has shape {w.shape}, this model "
                                 f"{tuple(v.shape)}")
            w = np.concatenate([w, np.zeros(w.shape[:2] + (EXTRA_CHANNELS, w.shape[3]),
                                            w.dtype)], 2)
        v.assign(w)
    unused = [k for k in theirs if not k.startswith(tuple(unused_ok))
              and not k.endswith("seed_generator_state")]
    if unused:
        raise ValueError(f"{path} holds weights this model does not have: "
                         f"{', '.join(sorted(unused)[:5])}")
    return fresh
