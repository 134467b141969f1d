"""Heatmap encodings, the Semi-DGPose pose representation and heatmap decoding (NumPy, vectorised).

Coordinates are in pixels with pixel *centres* at integers: the top-left pixel covers
``[-0.5, 0.5)²`` and has centre ``(0, 0)``; ``(x, y)`` order throughout; heatmaps are channels-last
``(..., H, W, C)`` like every tensor in this package.

Semi-DGPose representation (paper Appendix A: P = J + R + B = 14 + 9 + 1 = 24 channels)
----------------------------------------------------------------------------------------
The weak-annotation rule of the paper is not public; this package uses:

* **joint channels (14)**: an isotropic Gaussian ``exp(-d² / 2σ²)`` around each joint, peak 1;
* **rigid-part channels (9)**: a Gaussian *band* ``exp(-d_seg² / 2σ²)`` where ``d_seg`` is the
  distance to the segment between the part's two joints (head = head top–neck, upper arm =
  shoulder–elbow, lower arm = elbow–wrist, upper leg = hip–knee, lower leg = knee–ankle);
* **whole-body channel (1)**: the maximum of wider bands (σ_body = 2σ by default) over the 9 part
  segments and the 5 torso segments (shoulder–shoulder, hip–hip, each shoulder–hip, neck–pelvis),
  i.e. a blurred union of the body's bones that covers the torso.

Invisible/missing joints give all-zero joint channels, and a part (or body segment) with an
invisible end is left out. σ defaults to ``size / 32`` (2 px at 64×64).

The 48-dim **pose vector** (the latent y that the Mapper maps to the 24 heatmaps, Table A1) holds
the ``(x, y)`` centre of each of the 24 channels in normalised coordinates ``u = (2x + 1)/W - 1``
(so the image edges are at ±1): the 14 joints first (entries 0–27, joint-major, x then y), then the
9 part midpoints, then the body centre (the mean of the visible shoulders and hips). Entries whose
joints are not visible are 0 and flagged in the returned mask.
"""

from __future__ import annotations

import numpy as np

from .skeletons import get_skeleton

__all__ = [
    "SEMI_DGPOSE_PARTS", "SEMI_DGPOSE_CHANNELS", "BODY_SEGMENTS", "POSE_VECTOR_DIM",
    "gaussian_heatmaps", "segment_heatmaps", "semi_dgpose_heatmaps", "pose_vector",
    "pose_vector_to_joints", "normalise_coords", "denormalise_coords", "decode_heatmaps",
]

SEMI_DGPOSE_PARTS: tuple[tuple[str, str, str], ...] = (
    ("head", "head_top", "neck"),
    ("right_upper_arm", "right_shoulder", "right_elbow"),
    ("right_lower_arm", "right_elbow", "right_wrist"),
    ("right_upper_leg", "right_hip", "right_knee"),
    ("right_lower_leg", "right_knee", "right_ankle"),
    ("left_upper_arm", "left_shoulder", "left_elbow"),
    ("left_lower_arm", "left_elbow", "left_wrist"),
    ("left_upper_leg", "left_hip", "left_knee"),
    ("left_lower_leg", "left_knee", "left_ankle"),
)
_SKEL = get_skeleton("semi_dgpose14")
SEMI_DGPOSE_CHANNELS: tuple[str, ...] = (*_SKEL.joints, *(p[0] for p in SEMI_DGPOSE_PARTS), "body")
POSE_VECTOR_DIM = 2 * len(SEMI_DGPOSE_CHANNELS)  # 48

_PART_IDX = np.array([[_SKEL.index(a), _SKEL.index(b)] for _, a, b in SEMI_DGPOSE_PARTS])
_TORSO_IDX = np.array([_SKEL.index(j) for j in
                       ("right_shoulder", "left_shoulder", "right_hip", "left_hip")])
#: segments of the whole-body channel, as pairs of "points": indices < 14 are joints, 14 is the
#: pelvis (mean of hips).
BODY_SEGMENTS = np.concatenate([_PART_IDX, np.array([
    [_SKEL.index("right_shoulder"), _SKEL.index("left_shoulder")],
    [_SKEL.index("right_hip"), _SKEL.index("left_hip")],
    [_SKEL.index("right_shoulder"), _SKEL.index("right_hip")],
    [_SKEL.index("left_shoulder"), _SKEL.index("left_hip")],
    [_SKEL.index("neck"), 14],
])])


def _check_points(points, visible, name="joints"):
    points = np.asarray(points, dtype=np.float32)
    if points.ndim < 2 or points.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (..., K, 2) in pixels, got {points.shape}")
    finite = np.isfinite(points).all(-1)
    if visible is None:
        visible = finite
    else:
        visible = np.asarray(visible).astype(bool)
        if visible.shape != points.shape[:-1]:
            raise ValueError(f"visible must have shape {points.shape[:-1]}, got {visible.shape}")
        if np.any(visible & ~finite):
            raise ValueError(f"{name} marked visible contain NaN or inf")
        visible = visible & finite
    return np.where(visible[..., None], points, 0.0).astype(np.float32), visible


def _grid(size):
    h, w = (size, size) if np.isscalar(size) else size
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32),
                         indexing="ij")
    return xs, ys, (h, w)


def gaussian_heatmaps(points, visible=None, size=64, sigma=None):
    """Gaussian heatmaps ``(..., H, W, K)`` with peak 1 at each visible point ``(..., K, 2)``."""
    points, visible = _check_points(points, visible)
    xs, ys, (h, w) = _grid(size)
    sigma = float(sigma if sigma is not None else max(h, w) / 32.0)
    dx = xs[..., None] - points[..., None, None, :, 0]
    dy = ys[..., None] - points[..., None, None, :, 1]
    hm = np.exp(-(dx * dx + dy * dy) / (2.0 * sigma * sigma))
    return (hm * visible[..., None, None, :]).astype(np.float32)


def segment_heatmaps(a, b, visible=None, size=64, sigma=None):
    """Gaussian bands ``(..., H, W, S)`` around segments from ``a`` to ``b`` (each ``(..., S, 2)``).

    ``visible`` ``(..., S)`` switches segments off. A zero-length segment gives a Gaussian spot.
    """
    a, va = _check_points(a, None if visible is None else visible, "segment starts")
    b, vb = _check_points(b, None if visible is None else visible, "segment ends")
    vis = va & vb
    xs, ys, (h, w) = _grid(size)
    sigma = float(sigma if sigma is not None else max(h, w) / 32.0)
    ax, ay = a[..., None, None, :, 0], a[..., None, None, :, 1]
    ex, ey = (b - a)[..., None, None, :, 0], (b - a)[..., None, None, :, 1]
    px, py = xs[..., None] - ax, ys[..., None] - ay
    length2 = ex * ex + ey * ey
    t = np.clip((px * ex + py * ey) / np.maximum(length2, 1e-12), 0.0, 1.0)
    dx, dy = px - t * ex, py - t * ey
    hm = np.exp(-(dx * dx + dy * dy) / (2.0 * sigma * sigma))
    return (hm * vis[..., None, None, :]).astype(np.float32)


def _with_pelvis(joints, visible):
    hips = [_SKEL.index("right_hip"), _SKEL.index("left_hip")]
    pelvis = joints[..., hips, :].mean(-2, keepdims=True)
    pvis = visible[..., hips].all(-1, keepdims=True)
    return np.concatenate([joints, pelvis], -2), np.concatenate([visible, pvis], -1)


def semi_dgpose_heatmaps(joints, visible=None, size=64, sigma=None, sigma_body=None):
    """The 24-channel Semi-DGPose heatmaps ``(..., H, W, 24)`` of 14 joints ``(..., 14, 2)``.

    See the module docstring for the rule. ``joints`` are pixels in the ``size`` frame.
    """
    joints, visible = _check_points(joints, visible)
    if joints.shape[-2] != _SKEL.num_joints:
        raise ValueError(f"expected 14 Semi-DGPose joints (..., 14, 2), got {joints.shape}")
    h = size if np.isscalar(size) else max(size)
    sigma = float(sigma if sigma is not None else h / 32.0)
    sigma_body = float(sigma_body if sigma_body is not None else 2.0 * sigma)
    joint_hm = gaussian_heatmaps(joints, visible, size, sigma)
    a, b = joints[..., _PART_IDX[:, 0], :], joints[..., _PART_IDX[:, 1], :]
    pvis = visible[..., _PART_IDX[:, 0]] & visible[..., _PART_IDX[:, 1]]
    part_hm = segment_heatmaps(a, b, pvis, size, sigma)
    pts, pts_vis = _with_pelvis(joints, visible)
    a, b = pts[..., BODY_SEGMENTS[:, 0], :], pts[..., BODY_SEGMENTS[:, 1], :]
    bvis = pts_vis[..., BODY_SEGMENTS[:, 0]] & pts_vis[..., BODY_SEGMENTS[:, 1]]
    body_hm = segment_heatmaps(a, b, bvis, size, sigma_body).max(-1, keepdims=True)
    return np.concatenate([joint_hm, part_hm, body_hm], -1)


def normalise_coords(points, size):
    """Pixels -> ``[-1, 1]`` (image edges at ±1): ``u = (2x + 1) / W - 1``."""
    h, w = (size, size) if np.isscalar(size) else size
    scale = np.array([w, h], dtype=np.float32)
    return (2.0 * np.asarray(points, dtype=np.float32) + 1.0) / scale - 1.0


def denormalise_coords(u, size):
    """Inverse of :func:`normalise_coords`."""
    h, w = (size, size) if np.isscalar(size) else size
    scale = np.array([w, h], dtype=np.float32)
    return ((np.asarray(u, dtype=np.float32) + 1.0) * scale - 1.0) / 2.0


def pose_vector(joints, visible=None, size=64):
    """The 48-dim Semi-DGPose pose vector and its validity mask, both ``(..., 48)``."""
    joints, visible = _check_points(joints, visible)
    if joints.shape[-2] != _SKEL.num_joints:
        raise ValueError(f"expected 14 Semi-DGPose joints (..., 14, 2), got {joints.shape}")
    a, b = joints[..., _PART_IDX[:, 0], :], joints[..., _PART_IDX[:, 1], :]
    part_c = 0.5 * (a + b)
    part_v = visible[..., _PART_IDX[:, 0]] & visible[..., _PART_IDX[:, 1]]
    tv = visible[..., _TORSO_IDX].astype(np.float32)
    n = tv.sum(-1, keepdims=True)
    body_c = (joints[..., _TORSO_IDX, :] * tv[..., None]).sum(-2) / np.maximum(n, 1.0)
    centres = np.concatenate([joints, part_c, body_c[..., None, :]], -2)
    valid = np.concatenate([visible, part_v, n > 0], -1)
    u = np.where(valid[..., None], normalise_coords(centres, size), 0.0)
    mask = np.repeat(valid, 2, axis=-1)
    return u.reshape(*u.shape[:-2], POSE_VECTOR_DIM).astype(np.float32), mask


def pose_vector_to_joints(vector, size=64):
    """The 14 joints in pixels ``(..., 14, 2)`` from pose vectors ``(..., 48)``."""
    vector = np.asarray(vector, dtype=np.float32)
    if vector.shape[-1] != POSE_VECTOR_DIM:
        raise ValueError(f"pose vectors must be (..., {POSE_VECTOR_DIM}), got {vector.shape}")
    joints = vector[..., : 2 * _SKEL.num_joints].reshape(*vector.shape[:-1], _SKEL.num_joints, 2)
    return denormalise_coords(joints, size)


def decode_heatmaps(heatmaps, refine="log_parabola"):
    """Heatmap maxima to coordinates: ``(..., H, W, K)`` -> ``coords (..., K, 2)``, ``maxvals (..., K)``.

    ``refine``:
      * ``"log_parabola"`` (default): per axis, fit a parabola to the log of the maximum and its two
        neighbours and take its vertex (a 1-D version of DARK, Zhang et al. 2020). Exact for
        Gaussian heatmaps; the offset is clipped to ±0.5 px.
      * ``"quarter"``: move 0.25 px towards the larger neighbour (Newell et al. 2016; mmpose's
        classic ``get_max_preds`` post-processing).
      * ``None``: integer argmax.
    Maxima on the border are not refined along the axis that lacks a neighbour. A channel whose
    maximum is ≤ 0 (empty) gives coordinates ``(-1, -1)``, as in mmpose.
    """
    hm = np.asarray(heatmaps, dtype=np.float32)
    if hm.ndim < 3:
        raise ValueError(f"heatmaps must be (..., H, W, K), got shape {hm.shape}")
    if not np.isfinite(hm).all():
        raise ValueError("heatmaps contain NaN or inf")
    if refine not in ("log_parabola", "quarter", None):
        raise ValueError(f"refine must be 'log_parabola', 'quarter' or None, got {refine!r}")
    *lead, h, w, k = hm.shape
    flat = np.moveaxis(hm, -1, -3).reshape(-1, h * w)          # (N*K, H*W)
    idx = flat.argmax(-1)
    maxvals = flat[np.arange(flat.shape[0]), idx]
    y, x = np.divmod(idx, w)
    coords = np.stack([x, y], -1).astype(np.float32)
    if refine is not None:
        planes = flat.reshape(-1, h, w)
        n = np.arange(planes.shape[0])
        for axis, (pos, lim) in enumerate(((x, w), (y, h))):
            inner = (pos > 0) & (pos < lim - 1)
            lo, hi = np.clip(pos - 1, 0, lim - 1), np.clip(pos + 1, 0, lim - 1)
            if axis == 0:
                left, centre, right = planes[n, y, lo], planes[n, y, x], planes[n, y, hi]
            else:
                left, centre, right = planes[n, lo, x], planes[n, y, x], planes[n, hi, x]
            if refine == "quarter":
                offset = 0.25 * np.sign(right - left)
            else:
                eps = 1e-10
                ll, lc, lr = (np.log(np.maximum(v, eps)) for v in (left, centre, right))
                denom = ll - 2.0 * lc + lr
                with np.errstate(divide="ignore", invalid="ignore"):
                    offset = np.where(denom < -1e-12, 0.5 * (ll - lr) / denom, 0.0)
                offset = np.clip(offset, -0.5, 0.5)
            coords[:, axis] += np.where(inner, offset, 0.0)
    coords[maxvals <= 0] = -1.0
    return coords.reshape(*lead, k, 2), maxvals.reshape(*lead, k)
