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
the same model without it: every weight copied, layer 8 gets zero weights on the new input
channels, so training starts from exactly the loaded model's pictures inside the hole.

Part colours (a further option, :func:`part_colours`): the hole hides the person's clothes from
the decoder, and z (100 numbers, mostly spent on the background) draws them grey. The mean colour
of the appearance image under each of the source pose's 24 heatmaps, painted at the target pose's
heatmaps, gives the decoder 3 more input channels that carry the person's colours into the hole
(a one-number-per-part version of the part-wise appearance of Esser et al.'s VUNet, CVPR 2018).
"""

from __future__ import annotations

import numpy as np
from keras import ops

__all__ = ["HOLE_THRESHOLD", "HOLE_DILATION", "HOLE_SOFTEN", "FULL_HOLE_FRACTION",
           "EXTRA_CHANNELS", "PART_COLOUR_CHANNELS", "PART_THRESHOLD", "PAINT_FLOOR",
           "body_hole", "check_hole_settings", "training_hole", "fill", "empty_background",
           "part_colours", "draw", "grow_weights"]

HOLE_THRESHOLD, HOLE_DILATION, HOLE_SOFTEN = 0.7, 3, 3
FULL_HOLE_FRACTION = 1 / 8         # training samples whose hole is the whole image
EXTRA_CHANNELS = 4                 # the kept image (3) and the hole (1)
PART_COLOUR_CHANNELS = 3           # the painted part colours (option)
PART_THRESHOLD = 0.3               # a part's heat counts from here (the Mapper's maps are blurred)
PAINT_FLOOR = 0.5                  # summed part weight below which the painted colour fades to 0


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


def part_colours(images, source_heatmaps, heatmaps):
    """``(B, 64, 64, 3)``: the mean colour of ``images`` under each of ``source_heatmaps``'
    24 channels (their pose), painted where ``heatmaps`` (the pose to draw) are: per pixel the
    weighted mean of the parts' colours, fading to 0 where the summed weight is below
    :data:`PAINT_FLOOR` (outside the person). A part's weight is its heat above
    :data:`PART_THRESHOLD`, rescaled to [0, 1]: the Mapper's sigmoid maps are blurred and ~0.02
    everywhere, so raw heat summed over 24 channels passes the floor on 99 % of the pixels and
    every part's colour is mostly background (measured on 64 validation transfers of Semi-DGPose
    version 6: pasting the painted colours into its transfers left the person's masked L1 at
    0.199 with raw heat, 0.187 with the threshold 0.3, 0.193 at 0.5, 0.202 at 0.7; the copied
    appearance image 0.191)."""
    def weight(h):
        return ops.maximum(ops.cast(h, "float32") - PART_THRESHOLD, 0.0) / (1.0 - PART_THRESHOLD)

    w, t = weight(source_heatmaps), weight(heatmaps)
    images = ops.cast(images, "float32")
    colours = (ops.einsum("bhwk,bhwc->bkc", w, images)
               / (ops.sum(w, axis=(1, 2))[..., None] + 1e-3))
    heat = ops.sum(t, -1, keepdims=True)
    return ops.einsum("bhwk,bkc->bhwc", t, colours) / ops.maximum(heat, PAINT_FLOOR)


def fill(decoder, z, heatmaps, images, hole, training=False, painted=None):
    """The decoder fills ``hole`` and ``images`` are kept outside it; ``painted`` (a decoder
    with part colours) is :func:`part_colours`' map, given to the decoder beside the kept
    image and the hole."""
    images = ops.cast(images, "float32")
    kept = images * (1.0 - hole)
    extra = [kept, hole] + ([ops.cast(painted, "float32")] if painted is not None else [])
    out = decoder([z, heatmaps, ops.cast(ops.concatenate(extra, -1), heatmaps.dtype)],
                  training=training)
    return hole * out + kept


def empty_background(heatmaps):
    """``(images, hole)`` for drawing without an appearance image: black, all hole."""
    hole = ops.ones_like(heatmaps[..., :1], dtype="float32")
    return ops.tile(0.0 * hole, [1, 1, 1, 3]), hole


def draw(decoder, z, heatmaps, hole_of, images=None, source_heatmaps=None, training=False,
         colours=False):
    """A decoder with the stream draws the pose ``heatmaps``: ``images`` (posed as
    ``source_heatmaps``) kept outside ``hole_of``\ (target) ∪ ``hole_of``\ (source); without
    ``images`` the whole picture is drawn (and with ``colours`` the painted map is 0). The
    callers check their inputs first."""
    if images is None:
        images, hole = empty_background(heatmaps)
        painted = ops.zeros_like(images) if colours else None
        return fill(decoder, z, heatmaps, images, hole, training, painted)
    hole = ops.maximum(hole_of(heatmaps), hole_of(source_heatmaps))
    painted = part_colours(images, source_heatmaps, heatmaps) if colours else None
    return fill(decoder, z, heatmaps, images, hole, training, painted)


def grow_weights(model, donor, path, unused_ok=()):
    """Copy ``donor``'s weights (a built model loaded from ``path``) into ``model`` by variable
    path. A 4-D kernel with more input channels (layer 8 of a decoder grown with the stream or
    the part colours) gets zero weights on the new ones; variables the donor lacks (new heads)
    keep their initialisation; donor variables whose path starts with one of ``unused_ok`` may
    be left behind (any other is a named error). Returns the paths left at their
    initialisation."""
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
            new = v.shape[2] - w.shape[2] if len(w.shape) == 4 else 0
            grown = (new in (EXTRA_CHANNELS, PART_COLOUR_CHANNELS,
                             EXTRA_CHANNELS + PART_COLOUR_CHANNELS)
                     and tuple(v.shape[:2]) + tuple(v.shape[3:]) == w.shape[:2] + w.shape[3:])
            if not grown:
                raise ValueError(f"{path}: {key(v)} has shape {w.shape}, this model "
                                 f"{tuple(v.shape)}")
            w = np.concatenate([w, np.zeros(w.shape[:2] + (new, w.shape[3]), w.dtype)], 2)
        v.assign(w)
    unused = [k for k in theirs if not k.startswith(tuple(unused_ok))
              and not k.endswith("seed_generator_state")]
    if unused:
        raise ValueError(f"{path} holds weights this model does not have: "
                         f"{', '.join(sorted(unused)[:5])}")
    return fresh
