"""Differentiable, batched geometry in TensorFlow: Procrustes alignment and camera projection.

All functions take tensors or NumPy arrays with any number of leading batch dimensions and return
tensors. TensorFlow is imported on first use so that importing :mod:`dgpose_tf` stays cheap.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Similarity", "procrustes", "procrustes_align", "world_to_camera", "camera_to_world",
           "project_points"]


def _tf():
    import tensorflow as tf
    return tf


class Similarity(NamedTuple):
    """``y ≈ scale * x @ rotation^T + translation`` for points as rows."""

    rotation: object      # (..., D, D), det = +1
    scale: object         # (...,)
    translation: object   # (..., D)


def procrustes(source, target, mask=None, allow_scale=True, eps=1e-9):
    """Ordinary Procrustes: the similarity that best maps ``source`` onto ``target``.

    Minimises ``Σ_j m_j ‖s R x_j + t − y_j‖²`` over rotations ``R`` (proper: det R = +1, no
    reflection), scale ``s > 0`` (1 if ``allow_scale`` is False) and translation ``t``
    (Umeyama 1991).

    Args:
        source, target: ``(..., N, D)`` points, D = 2 or 3.
        mask: optional ``(..., N)``; joints with mask 0 (or non-finite coordinates in either set)
            take no part. Weights in [0, 1] are honoured as weights.
        allow_scale: estimate the scale (True) or fix it to 1.
    Returns:
        :class:`Similarity`.

    Degenerate cases are stable and gradient-safe: with no valid joint the identity is returned;
    with one, or all valid joints at one place, a pure translation. In 2-D the rotation has a
    closed form (``atan2`` of the summed cross and dot products), which is smooth everywhere except
    for those degenerate configurations; in 3-D it comes from an SVD of the 3×3 covariance, whose
    gradient is undefined when singular values repeat.
    """
    tf = _tf()
    x = tf.convert_to_tensor(source)
    dtype = x.dtype if x.dtype.is_floating else tf.float32
    x = tf.cast(x, dtype)
    y = tf.cast(tf.convert_to_tensor(target), dtype)
    if x.shape.rank is not None and (x.shape.rank < 2 or x.shape[-1] not in (2, 3)):
        raise ValueError(f"points must be (..., N, 2|3), got shape {x.shape}")
    if x.shape.is_fully_defined() and y.shape.is_fully_defined() and x.shape != y.shape:
        raise ValueError(f"source {x.shape} and target {y.shape} differ in shape")
    finite = tf.logical_and(tf.reduce_all(tf.math.is_finite(x), -1),
                            tf.reduce_all(tf.math.is_finite(y), -1))
    w = tf.cast(finite, dtype)
    if mask is not None:
        w = w * tf.cast(mask, dtype)
    x = tf.where(finite[..., None], x, tf.zeros_like(x))
    y = tf.where(finite[..., None], y, tf.zeros_like(y))
    wk = w[..., None]
    n = tf.reduce_sum(w, -1)                                     # (...,)
    n_safe = tf.maximum(n, eps)[..., None]
    mu_x = tf.reduce_sum(wk * x, -2) / n_safe                    # (..., D)
    mu_y = tf.reduce_sum(wk * y, -2) / n_safe
    xc = (x - mu_x[..., None, :]) * wk
    yc = y - mu_y[..., None, :]   # weights already in xc
    var_x = tf.reduce_sum(xc * (x - mu_x[..., None, :]), [-2, -1])   # Σ w |x - μ|²
    d = x.shape[-1]
    if d == 2:
        dot = tf.reduce_sum(xc * yc, [-2, -1])
        cross = tf.reduce_sum(xc[..., 0] * yc[..., 1] - xc[..., 1] * yc[..., 0], -1)
        norm2 = dot * dot + cross * cross
        ok = norm2 > eps
        norm = tf.sqrt(tf.where(ok, norm2, tf.ones_like(norm2)))
        cos = tf.where(ok, dot / norm, tf.ones_like(dot))
        sin = tf.where(ok, cross / norm, tf.zeros_like(cross))
        rotation = tf.stack([tf.stack([cos, -sin], -1), tf.stack([sin, cos], -1)], -2)
        trace = tf.where(ok, norm, tf.zeros_like(norm))
    else:
        cov = tf.linalg.matmul(yc, xc, transpose_a=True)           # Σ w (y-μy)(x-μx)^T (D, D)
        s, u, v = tf.linalg.svd(cov)
        det = tf.linalg.det(tf.linalg.matmul(u, v, transpose_b=True))
        sign = tf.where(det < 0, -tf.ones_like(det), tf.ones_like(det))
        ones = tf.ones_like(s[..., :-1])
        fix = tf.concat([ones, sign[..., None]], -1)
        rot = tf.linalg.matmul(u * fix[..., None, :], v, transpose_b=True)
        ok = tf.reduce_sum(s, -1) > eps
        rotation = tf.where(ok[..., None, None], rot, tf.eye(d, dtype=dtype))
        trace = tf.where(ok, tf.reduce_sum(s * fix, -1), tf.zeros_like(s[..., 0]))
    if allow_scale:
        has_var = var_x > eps
        scale = tf.where(has_var, trace / tf.where(has_var, var_x, tf.ones_like(var_x)),
                         tf.ones_like(var_x))
    else:
        scale = tf.ones_like(var_x)
    rx = tf.linalg.matvec(rotation, mu_x)
    translation = mu_y - scale[..., None] * rx
    return Similarity(rotation, scale, translation)


def procrustes_align(source, target, mask=None, allow_scale=True, return_transform=False):
    """``source`` moved onto ``target`` by :func:`procrustes` (all joints moved, also masked ones)."""
    tf = _tf()
    sim = procrustes(source, target, mask, allow_scale)
    x = tf.cast(tf.convert_to_tensor(source), sim.scale.dtype)
    aligned = (sim.scale[..., None, None] * tf.linalg.matmul(x, sim.rotation, transpose_b=True)
               + sim.translation[..., None, :])
    return (aligned, sim) if return_transform else aligned


def world_to_camera(points, R, T):
    """Human3.6M convention: ``X_cam = R (X_world − T)``; ``T`` is the camera centre in the world."""
    tf = _tf()
    p = tf.convert_to_tensor(points)
    R = tf.cast(R, p.dtype)
    T = tf.cast(T, p.dtype)
    return tf.linalg.matmul(p - T[..., None, :], R, transpose_b=True)


def camera_to_world(points, R, T):
    """Inverse of :func:`world_to_camera`: ``X_world = R^T X_cam + T``."""
    tf = _tf()
    p = tf.convert_to_tensor(points)
    R = tf.cast(R, p.dtype)
    return tf.linalg.matmul(p, R) + tf.cast(T, p.dtype)[..., None, :]


def project_points(points, R, T, f, c, k=None, p=None, model="brown", return_depth=False):
    """Project world points ``(..., N, 3)`` to pixels ``(..., N, 2)`` with lens distortion.

    Camera parameters as Human3.6M ships them: ``R (..., 3, 3)``, ``T (..., 3)`` (camera centre,
    see :func:`world_to_camera`), focal lengths ``f (..., 2)``, principal point ``c (..., 2)``,
    radial ``k (..., 3)`` = (k1, k2, k3) and tangential ``p (..., 2)`` = (p1, p2).

    ``model``:
      * ``"brown"``: Brown–Conrady, as OpenCV's ``projectPoints`` with distCoeffs
        (k1, k2, p1, p2, k3): ``x' = x·radial + 2 p1 x y + p2 (r² + 2x²)``,
        ``y' = y·radial + p1 (r² + 2y²) + 2 p2 x y``.
      * ``"h36m"``: the formula of the Human3.6M reference code (``project_point_radial`` in
        Martinez et al.'s release): ``x' = x·(radial + p1 y + p2 x) + p2 r²``,
        ``y' = y·(radial + p1 y + p2 x) + p1 r²``. Use it to reproduce published Human3.6M 2-D
        projections; it is not the same as Brown–Conrady when p ≠ 0.
    """
    tf = _tf()
    if model not in ("brown", "h36m"):
        raise ValueError(f"model must be 'brown' or 'h36m', got {model!r}")
    X = world_to_camera(points, R, T)
    dtype = X.dtype
    z = X[..., 2]
    xy = X[..., :2] / z[..., None]
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    f = tf.cast(f, dtype)
    k = tf.zeros_like(tf.concat([f, f[..., :1]], -1)) if k is None else tf.cast(k, dtype)
    p = tf.zeros_like(k[..., :2]) if p is None else tf.cast(p, dtype)
    k1, k2, k3 = (k[..., i, None] for i in range(3))
    p1, p2 = p[..., 0, None], p[..., 1, None]
    radial = 1.0 + k1 * r2 + k2 * r2 * r2 + k3 * r2 * r2 * r2
    if model == "brown":
        xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
        yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
    else:
        tan = p1 * y + p2 * x
        xd = x * (radial + tan) + p2 * r2
        yd = y * (radial + tan) + p1 * r2
    uv = tf.stack([xd, yd], -1) * tf.cast(f, dtype)[..., None, :] + tf.cast(c, dtype)[..., None, :]
    return (uv, z) if return_depth else uv
