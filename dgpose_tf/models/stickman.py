"""Stickman images and body-part crops for the VUNet family, as TensorFlow graph ops (the same code
runs in the training pipeline and inside the SavedModel's signatures).

Input joints are the 13 :data:`dgpose_tf.pose.three_layer.STICK_JOINTS` in pixels (x right,
y down, pixel centres at integers as OpenCV draws), with a validity flag each; a stroke with an
invalid end is not drawn. Line width is the reference's ``int(3 · size / 128)`` (at least one
pixel's worth: strokes cover pixels within ``max(width / 2, 0.71)`` of the segment).

Kinds (channels):

* ``"2d"`` (3) — the VUNet reference stickman (CompVis/vunet ``make_joint_img``): channel 0 the
  right-side strokes (ankle–knee–hip–shoulder–elbow–wrist), channel 1 the left side, channel 2 the
  filled torso polygon (left hip, left shoulder, right shoulder, right hip); the neck (shoulder
  midpoint) to head stroke at 127/255 in channels 0 and 1.
* ``"three_layer"`` (3) — the 2.5D thesis's RGB stickman: the torso filled green (plane 0), each of
  the 8 limbs red (+1, in front), green (0) or blue (−1, occluded) by its label, drawn in depth
  order (−1 limbs, torso, 0 limbs, +1 limbs) so a limb in front covers what it crosses; the neck–head
  stroke green at 127/255 (the thesis names torso + 8 limbs; the head stroke is kept from the
  reference so the generator knows where the head is).
* ``"2d_depth"`` (6) — the 2-D stickman plus one mask channel per depth class (+1, 0, −1) of the
  limbs.

Values are in [0, 1]; models take ``2·s − 1``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..pose.three_layer import LIMB_IDX, STICK_JOINTS, TORSO_IDX

__all__ = ["STICKMAN_KINDS", "CROP_PARTS", "line_width", "draw_stickman", "part_crops"]

STICKMAN_KINDS = {"2d": 3, "three_layer": 3, "2d_depth": 6}
_J = {n: i for i, n in enumerate(STICK_JOINTS)}
_RIGHT = [("right_ankle", "right_knee"), ("right_knee", "right_hip"),
          ("right_hip", "right_shoulder"), ("right_shoulder", "right_elbow"),
          ("right_elbow", "right_wrist")]
_LEFT = [(a.replace("right", "left"), b.replace("right", "left")) for a, b in _RIGHT]


def line_width(size):
    """The reference's stroke width at an image size: ``int(3 · size / 128)``."""
    return int(3 * size / 128)


def _grid(size):
    r = tf.range(size, dtype=tf.float32)
    yy, xx = tf.meshgrid(r, r, indexing="ij")
    return xx[None], yy[None]                      # (1, S, S)


def _segment(a, b, ok, size, width):
    """(N, S, S) bool: pixels within the stroke from ``a`` to ``b`` (N, 2); ``ok`` (N,) bool."""
    xx, yy = _grid(size)
    ax, ay = a[:, 0, None, None], a[:, 1, None, None]
    dx, dy = (b[:, 0] - a[:, 0])[:, None, None], (b[:, 1] - a[:, 1])[:, None, None]
    t = ((xx - ax) * dx + (yy - ay) * dy) / tf.maximum(dx * dx + dy * dy, 1e-9)
    t = tf.clip_by_value(t, 0.0, 1.0)
    d2 = (xx - ax - t * dx) ** 2 + (yy - ay - t * dy) ** 2
    r = max(width / 2.0, 0.71)
    return (d2 <= r * r) & ok[:, None, None]


def _polygon(pts, ok, size):
    """(N, S, S) bool: pixels inside the polygon ``pts`` (N, K, 2) (even-odd rule)."""
    xx, yy = _grid(size)
    inside = tf.zeros(tf.concat([tf.shape(pts)[:1], [size, size]], 0), tf.bool)
    k = pts.shape[1]
    for i in range(k):
        x1, y1 = pts[:, i, 0, None, None], pts[:, i, 1, None, None]
        x2, y2 = pts[:, (i + 1) % k, 0, None, None], pts[:, (i + 1) % k, 1, None, None]
        crosses = (y1 > yy) != (y2 > yy)
        xint = x1 + (yy - y1) * (x2 - x1) / tf.where(tf.abs(y2 - y1) < 1e-9, 1e-9, y2 - y1)
        inside = tf.math.logical_xor(inside, crosses & (xx < xint))
    return inside & ok[:, None, None]


def _limb_masks(joints, valid, size, width):
    return [_segment(tf.gather(joints, a, axis=1), tf.gather(joints, b, axis=1),
                     tf.gather(valid, a, axis=1) & tf.gather(valid, b, axis=1), size, width)
            for a, b in LIMB_IDX]


def _neck_head(joints, valid, size, width):
    neck = 0.5 * (joints[:, _J["left_shoulder"]] + joints[:, _J["right_shoulder"]])
    ok = valid[:, _J["left_shoulder"]] & valid[:, _J["right_shoulder"]] & valid[:, _J["head"]]
    return _segment(neck, joints[:, _J["head"]], ok, size, width)


def _torso(joints, valid, size):
    pts = tf.gather(joints, TORSO_IDX, axis=1)
    ok = tf.reduce_all(tf.gather(valid, TORSO_IDX, axis=1), axis=1)
    return _polygon(pts, ok, size)


def _stick_2d(joints, valid, size, width):
    f = lambda m: tf.cast(m, tf.float32)
    chans = []
    for side in (_RIGHT, _LEFT):
        m = tf.zeros_like(_torso(joints, valid, size))
        for a, b in side:
            m |= _segment(joints[:, _J[a]], joints[:, _J[b]], valid[:, _J[a]] & valid[:, _J[b]],
                          size, width)
        chans.append(tf.maximum(f(m), f(_neck_head(joints, valid, size, width)) * (127 / 255)))
    chans.append(f(_torso(joints, valid, size)))
    return tf.stack(chans, -1)


_COLOURS = {1: (1.0, 0.0, 0.0), 0: (0.0, 1.0, 0.0), -1: (0.0, 0.0, 1.0)}


def _stick_three_layer(joints, valid, labels, size, width):
    limbs = _limb_masks(joints, valid, size, width)
    canvas = tf.zeros(tf.concat([tf.shape(joints)[:1], [size, size, 3]], 0))

    def paint(canvas, mask, colour, value=1.0):
        c = tf.constant(colour, tf.float32) * value
        return tf.where(mask[..., None], c, canvas)

    # back to front: occluded limbs, the torso plane (and neck–head stroke), plane limbs, front
    for cls in (-1,):
        for i, m in enumerate(limbs):
            canvas = paint(canvas, m & tf.equal(labels[:, i, None, None], cls), _COLOURS[cls])
    canvas = paint(canvas, _neck_head(joints, valid, size, width), _COLOURS[0], 127 / 255)
    canvas = paint(canvas, _torso(joints, valid, size), _COLOURS[0])
    for cls in (0, 1):
        for i, m in enumerate(limbs):
            canvas = paint(canvas, m & tf.equal(labels[:, i, None, None], cls), _COLOURS[cls])
    return canvas


def draw_stickman(joints, valid, labels=None, size=64, kind="three_layer", width=None):
    """Stickman images ``(N, size, size, C)`` in [0, 1].

    Args:
        joints: ``(N, 13, 2)`` pixel coordinates of the stick joints.
        valid: ``(N, 13)`` bool.
        labels: ``(N, 8)`` depth classes in {−1, 0, +1} (needed by "three_layer", "2d_depth").
        kind: "2d", "three_layer" or "2d_depth".
        width: stroke width in pixels (default :func:`line_width`).
    """
    if kind not in STICKMAN_KINDS:
        raise ValueError(f"stickman kind must be one of {sorted(STICKMAN_KINDS)}, got {kind!r}")
    joints = tf.convert_to_tensor(joints, tf.float32)
    valid = tf.cast(valid, tf.bool)
    if joints.shape.rank != 3 or joints.shape[1] != 13 or joints.shape[2] != 2:
        raise ValueError(f"stick joints must be (N, 13, 2), got {joints.shape}")
    width = line_width(size) if width is None else width
    if kind == "2d":
        return _stick_2d(joints, valid, size, width)
    if labels is None:
        raise ValueError(f"stickman kind {kind!r} needs the 8 limb depth labels")
    labels = tf.cast(labels, tf.int32)
    if kind == "three_layer":
        return _stick_three_layer(joints, valid, labels, size, width)
    limbs = _limb_masks(joints, valid, size, width)
    depth = []
    for cls in (1, 0, -1):
        m = tf.zeros_like(limbs[0])
        for i, lm in enumerate(limbs):
            m |= lm & tf.equal(labels[:, i, None, None], cls)
        depth.append(tf.cast(m, tf.float32))
    return tf.concat([_stick_2d(joints, valid, size, width), tf.stack(depth, -1)], -1)


#: The reference's 8 appearance parts: (name, joint a, joint b, where a and b land on the crop's
#: vertical centre line as fractions of its height). Torso and head use the shoulder and hip
#: midpoints; arms are normalised upright; lower legs are not among the reference's parts.
CROP_PARTS = (("torso", "shoulders", "hips", 0.15, 0.85),
              ("head", "head", "shoulders", 0.35, 0.85),
              ("left_upper_arm", "left_shoulder", "left_elbow", 0.15, 0.85),
              ("left_lower_arm", "left_elbow", "left_wrist", 0.15, 0.85),
              ("right_upper_arm", "right_shoulder", "right_elbow", 0.15, 0.85),
              ("right_lower_arm", "right_elbow", "right_wrist", 0.15, 0.85),
              ("left_upper_leg", "left_hip", "left_knee", 0.15, 0.85),
              ("right_upper_leg", "right_hip", "right_knee", 0.15, 0.85))


def _point(joints, valid, name):
    if name in ("shoulders", "hips"):
        a, b = ("left_shoulder", "right_shoulder") if name == "shoulders" else ("left_hip", "right_hip")
        return (0.5 * (joints[:, _J[a]] + joints[:, _J[b]]), valid[:, _J[a]] & valid[:, _J[b]])
    return joints[:, _J[name]], valid[:, _J[name]]


def part_crops(images, joints, valid, crop_size):
    """In-plane normalised body-part crops ``(N, s, s, 24)``: for each of :data:`CROP_PARTS`, the
    image resampled (bilinear) so that the part's axis runs down the crop's centre line (a
    similarity transform: rotation, isotropic scale, shift), 3 channels each, zero for a part with
    an invalid or degenerate end."""
    images = tf.convert_to_tensor(images, tf.float32)
    joints = tf.convert_to_tensor(joints, tf.float32)
    valid = tf.cast(valid, tf.bool)
    s = float(crop_size)
    out = []
    for _, a_name, b_name, ya, yb in CROP_PARTS:
        a, oka = _point(joints, valid, a_name)
        b, okb = _point(joints, valid, b_name)
        d = b - a
        length = tf.norm(d, axis=-1)
        ok = oka & okb & (length > 1e-3)
        u = d / tf.maximum(length, 1e-3)[:, None]                 # along the part (crop +y)
        n = tf.stack([-u[:, 1], u[:, 0]], -1)                      # across (crop +x)
        scale = length / ((yb - ya) * s)                           # image px per crop px
        # image point = a + u·scale·(y − ya·s) + n·scale·(x − s/2)   (crop pixel (x, y))
        a0, a1 = n[:, 0] * scale, u[:, 0] * scale
        b0, b1 = n[:, 1] * scale, u[:, 1] * scale
        a2 = a[:, 0] - a0 * (s / 2 - 0.5) - a1 * (ya * s - 0.5)
        b2 = a[:, 1] - b0 * (s / 2 - 0.5) - b1 * (ya * s - 0.5)
        zeros = tf.zeros_like(a0)
        transform = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], -1)
        crop = tf.raw_ops.ImageProjectiveTransformV3(
            images=images, transforms=transform, output_shape=[crop_size, crop_size],
            fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")
        out.append(crop * tf.cast(ok, tf.float32)[:, None, None, None])
    return tf.concat(out, -1)


def crop_size_for(image_size, box_factor):
    return int(image_size) // (2 ** int(box_factor))


def numpy_stickman(joints, valid, labels=None, size=64, kind="three_layer"):
    """:func:`draw_stickman` for numpy arrays → uint8 ``(N, S, S, C)`` (pictures, tests)."""
    img = draw_stickman(np.asarray(joints, np.float32), np.asarray(valid, bool),
                        None if labels is None else np.asarray(labels, np.int32), size, kind)
    return np.clip(np.rint(img.numpy() * 255), 0, 255).astype(np.uint8)
