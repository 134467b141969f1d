"""The Three-Layer Pose Space of the 2.5D thesis (§3.2): a depth class per limb.

The body is the torso (the zero plane) and 8 limbs (upper/lower arm and leg, left and right,
:data:`LIMBS_25D`). Each limb gets +1 (red: in front of the torso or of another limb), 0 (green:
on the torso's plane) or −1 (blue: being occluded). Two labelling rules from 3-D joints:

* :func:`occlusion_labels` — the thesis's rule: "find where occlusion happens by comparing
  (x_i, y_i) of each limb, then z_{i,j} tells which limb is occluded and which is in front", with a
  body-thickness margin. A limb gets ±1 only where its 2-D footprint overlaps the torso or another
  limb (pairs that meet at a joint — an upper arm at its shoulder, a forearm at its elbow — do not
  count there); nearer by more than ``margin`` is in front. A limb behind anything it overlaps is
  −1, else +1 if in front of anything, else 0.
* :func:`depth_only_labels` — the synthetic renderer's rule: the limb's mean depth against the
  torso's, ±1 beyond ``margin``, whatever the 2-D layout.

Depth is the camera z (larger = farther). ``margin`` is in the units of the 3-D joints (metres for
the synthetic people, millimetres for Human3.6M).
"""

from __future__ import annotations

import numpy as np

from .skeletons import get_skeleton

__all__ = ["LIMBS_25D", "STICK_JOINTS", "stick_joints", "depth_only_labels", "occlusion_labels",
           "footprints"]

#: The 8 limbs in the order the labels use (the synthetic renderer's order too).
LIMBS_25D = (("left_upper_arm", "left_shoulder", "left_elbow"),
             ("left_lower_arm", "left_elbow", "left_wrist"),
             ("right_upper_arm", "right_shoulder", "right_elbow"),
             ("right_lower_arm", "right_elbow", "right_wrist"),
             ("left_upper_leg", "left_hip", "left_knee"),
             ("left_lower_leg", "left_knee", "left_ankle"),
             ("right_upper_leg", "right_hip", "right_knee"),
             ("right_lower_leg", "right_knee", "right_ankle"))
#: The 13 joints a stickman is drawn from (the head joint is "head", else "head_top", else "nose").
STICK_JOINTS = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
                "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
                "right_ankle", "head")
_S = {n: i for i, n in enumerate(STICK_JOINTS)}
LIMB_IDX = np.array([[_S[a], _S[b]] for _, a, b in LIMBS_25D])
TORSO_IDX = np.array([_S[n] for n in ("left_hip", "left_shoulder", "right_shoulder", "right_hip")])
_HEAD_NAMES = ("head", "head_top", "nose")


def stick_joints(joints, skeleton, visible=None):
    """``(joints13, valid13)``: the :data:`STICK_JOINTS` of ``joints`` (``(..., J, D)``) in a named
    skeleton. Joints the skeleton lacks, not visible or non-finite are invalid (their coordinates
    are set to 0)."""
    sk = get_skeleton(skeleton)
    joints = np.asarray(joints, np.float32)
    if joints.ndim < 2 or joints.shape[-2] != sk.num_joints:
        raise ValueError(f"joints must be (..., {sk.num_joints}, D) for skeleton {sk.name!r}, got "
                         f"{joints.shape}")
    head = next((h for h in _HEAD_NAMES if h in sk), None)
    names = [head if n == "head" else n for n in STICK_JOINTS]
    missing = [n for n in names[:12] if n is None or n not in sk]
    if missing:
        raise ValueError(f"skeleton {sk.name!r} lacks {missing} needed for a stickman")
    out = np.zeros(joints.shape[:-2] + (13, joints.shape[-1]), np.float32)
    valid = np.zeros(joints.shape[:-2] + (13,), bool)
    for i, n in enumerate(names):
        if n is None:
            continue
        out[..., i, :] = joints[..., sk.index(n), :]
        valid[..., i] = np.isfinite(out[..., i, :]).all(-1)
        if visible is not None:
            valid[..., i] &= np.asarray(visible, bool)[..., sk.index(n)]
    out[~valid] = 0.0
    return out, valid


def depth_only_labels(z13, margin):
    """The renderer's rule: limb mean depth vs torso mean depth. ``z13`` ``(..., 13)`` → ``(..., 8)``
    int8 in {−1, 0, +1}."""
    z = np.asarray(z13, np.float64)
    torso = z[..., TORSO_IDX].mean(-1, keepdims=True)
    limb = z[..., LIMB_IDX].mean(-1)
    return np.where(torso - limb > margin, 1, np.where(limb - torso > margin, -1, 0)).astype(np.int8)


def footprints(uv13, size, thickness):
    """Boolean 2-D footprints ``(9, size, size)``: the 8 limbs as strokes ``thickness`` px wide,
    then the torso quadrilateral (hip, shoulder, shoulder, hip)."""
    import cv2

    k = 16
    pts = np.rint(np.asarray(uv13, np.float64) * k).astype(np.int64)
    out = np.zeros((9, size, size), np.uint8)
    for i, (a, b) in enumerate(LIMB_IDX):
        cv2.line(out[i], tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), 1,
                 max(1, int(round(thickness))), cv2.LINE_8, 4)
    cv2.fillPoly(out[8], [pts[TORSO_IDX].astype(np.int32)], 1, cv2.LINE_8, 4)
    return out.astype(bool)


def _depth_at(points, uv_a, uv_b, z_a, z_b):
    d = uv_b - uv_a
    t = np.clip(((points - uv_a) @ d) / max(float(d @ d), 1e-9), 0.0, 1.0)
    return z_a + t * (z_b - z_a)


def occlusion_labels(uv13, z13, size, thickness, margin, valid=None, z_offsets=None):
    """The thesis's occlusion-gated rule for one person.

    Args:
        uv13: ``(13, 2)`` image coordinates of :data:`STICK_JOINTS` (pixels).
        z13: ``(13,)`` camera depths.
        size: image size in pixels (the footprints are rasterised at it).
        thickness: limb stroke width in pixels for the footprints.
        margin: body-thickness margin in depth units.
        valid: optional ``(13,)`` bool; a limb with an invalid end is 0.
        z_offsets: optional ``(9,)`` depth offsets of the 8 limbs and the torso — the same
            offsets given to the renderer's forced draw order, so labels follow the render.
    Returns ``(8,)`` int8 in {−1, 0, +1}.
    """
    uv = np.asarray(uv13, np.float64)
    z = np.asarray(z13, np.float64)
    ok = np.ones(13, bool) if valid is None else np.asarray(valid, bool)
    off = np.zeros(9) if z_offsets is None else np.asarray(z_offsets, np.float64)
    fp = footprints(uv, size, thickness)
    # the torso's depth: a plane through its 4 corners (least squares in image coordinates)
    A = np.c_[uv[TORSO_IDX], np.ones(4)]
    plane = np.linalg.lstsq(A, z[TORSO_IDX], rcond=None)[0]
    yy, xx = np.mgrid[0:size, 0:size]
    grid = np.stack([xx, yy], -1).reshape(-1, 2).astype(np.float64)
    r = max(float(thickness), 1.0)
    front = np.zeros(8, bool)
    behind = np.zeros(8, bool)
    limb_ok = ok[LIMB_IDX].all(-1)

    def depth(part, pts):
        if part == 8:
            return np.c_[pts, np.ones(len(pts))] @ plane + off[8]
        a, b = LIMB_IDX[part]
        return _depth_at(pts, uv[a], uv[b], z[a], z[b]) + off[part]

    for i in range(8):
        if not limb_ok[i]:
            continue
        for j in list(range(i + 1, 8)) + [8]:
            if j < 8 and not limb_ok[j]:
                continue
            if j == 8 and not ok[TORSO_IDX].all():
                continue
            overlap = (fp[i] & fp[j]).reshape(-1)
            shared = (set(LIMB_IDX[i]) & (set(TORSO_IDX) if j == 8 else set(LIMB_IDX[j])))
            pts = grid[overlap]
            for s in shared:            # parts that meet at a joint overlap there by construction
                pts = pts[np.linalg.norm(pts - uv[s], axis=1) > 1.5 * r]
            if len(pts) < max(2, int(r)):
                continue
            dz = float(np.median(depth(i, pts) - depth(j, pts)))
            if dz < -margin:
                front[i] = True
                if j < 8:
                    behind[j] = True
            elif dz > margin:
                behind[i] = True
                if j < 8:
                    front[j] = True
    return np.where(behind, -1, np.where(front, 1, 0)).astype(np.int8)
