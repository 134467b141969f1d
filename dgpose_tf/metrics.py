"""Evaluation metrics for pose and images. NumPy arrays or tensors in, floats or arrays out.

Rules to know before comparing with published numbers
-----------------------------------------------------
PCK (:func:`pck`)
  * A joint is correct if ``‖pred − gt‖ / norm`` is ``<= threshold`` (``strict=False``, the LSP and
    MPII evaluation code) or ``< threshold`` (``strict=True``, mmpose). The two differ only on
    ties, which happen with integer coordinates.
  * Only joints marked visible in the ground truth are scored; invisible joints count in neither
    numerator nor denominator. A prediction that is NaN for a scored joint counts as wrong.
  * A sample whose normaliser is zero, negative or not finite (e.g. torso joints missing) is left
    out entirely and counted in ``PCKResult.excluded_samples`` (mmpose does the same).
  * ``pooled`` is correct / scored over all joints of all samples (LSP, and MPII's "Mean" which
    weights joints by their counts); ``mean_per_joint`` is the mean of the per-joint accuracies
    over joints that were scored at least once (mmpose's ``avg_acc``). ``value`` is the one the
    chosen convention reports.
  * Normalisers: ``"torso"`` = distance from the left shoulder to the right hip of the ground
    truth (the LSP convention); ``"bbox"`` = the longer side of the box around the visible
    ground-truth joints (Yang & Ramanan); ``"head"`` = 0.6 × the diagonal of the head box
    (PCKh, MPII's ``SC_BIAS``); an array gives one normaliser per sample; ``None`` means pixels.

Named conventions (:data:`PCK_CONVENTIONS`): ``"lsp"`` (torso, ``<=``, pooled), ``"mpii"`` (PCKh:
head, ``<=``, pooled) and ``"mmpose"`` (``<``, mean of per-joint accuracies; normaliser chosen by
the caller as in mmpose's ``keypoint_pck_accuracy``). Explicit keyword arguments override the
convention's.

Other metrics: :func:`auc` is the area under the PCK curve over a threshold range by the trapezoid
rule, divided by the range (so it lies in [0, 1]); :func:`epe` is the mean end-point error over
visible joints; :func:`mpjpe` optionally aligns by scale (N-MPJPE, Rhodin et al. 2018) or by
similarity Procrustes (P-MPJPE); :func:`mpjse` follows the pose-sequence thesis §4.4 literally
(sum over F − 1 speed differences divided by J·F); :func:`psnr`, :func:`ssim` are ``tf.image``'s
(SSIM: 11×11 Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03, valid region, mean over channels —
equal to scikit-image's ``structural_similarity`` with ``gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=max_val``). :func:`ssim_map` is the per-pixel SSIM
behind that mean (``tf.image.ssim`` returns only the mean; the map equals scikit-image's
``full=True`` map on the valid region), so that :func:`masked_ssim` can average it over a
foreground mask; :func:`masked_l1` is the mean absolute error over the mask.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .pose.skeletons import get_skeleton

__all__ = ["PCK_CONVENTIONS", "PCKResult", "normalised_distances", "pck", "pck_curve", "auc",
           "epe", "mpjpe", "mpjse", "psnr", "ssim", "ssim_map", "masked_ssim", "masked_l1",
           "inception_score"]

PCK_CONVENTIONS = {
    "lsp": dict(norm="torso", strict=False, reduce="pooled"),
    "mpii": dict(norm="head", strict=False, reduce="pooled"),
    "mmpose": dict(strict=True, reduce="mean_per_joint"),
}
_DEFAULTS = dict(norm="torso", strict=False, reduce="pooled")


def _np(x, dtype=np.float64):
    if x is None:
        return None
    if hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x, dtype=dtype)


def _joints_pair(pred, gt, visible):
    pred, gt = _np(pred), _np(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must have the same shape")
    if pred.ndim == 2:
        pred, gt = pred[None], gt[None]
        visible = None if visible is None else np.asarray(visible)[None]
    if pred.ndim != 3 or pred.shape[-1] not in (2, 3):
        raise ValueError(f"joints must be (N, J, 2|3) or (J, 2|3), got {pred.shape}")
    if visible is None:
        visible = np.isfinite(gt).all(-1)
    else:
        visible = _np(visible, bool)
        if visible.shape != gt.shape[:-1]:
            raise ValueError(f"visible must have shape {gt.shape[:-1]}, got {visible.shape}")
        if np.any(visible & ~np.isfinite(gt).all(-1)):
            raise ValueError("gt joints marked visible contain NaN or inf")
    return pred, gt, visible


def _normaliser(gt, visible, norm, skeleton, head_boxes):
    n = gt.shape[0]
    if norm is None or (isinstance(norm, str) and norm == "pixels"):
        return np.ones(n)
    if isinstance(norm, str):
        if norm == "torso":
            skel = get_skeleton(skeleton)
            a, b = skel.index("left_shoulder"), skel.index("right_hip")
            size = np.linalg.norm(gt[:, a] - gt[:, b], axis=-1)
            return np.where(visible[:, a] & visible[:, b], size, np.nan)
        if norm == "bbox":
            g = np.where(visible[..., None], gt, np.nan)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN samples -> NaN
                extent = np.nanmax(g, 1) - np.nanmin(g, 1)
            return np.nanmax(extent[:, :2], -1) if extent.size else np.full(n, np.nan)
        if norm == "head":
            if head_boxes is None:
                raise ValueError("norm='head' (PCKh) needs head_boxes: (N, 4) as x1, y1, x2, y2")
            hb = _np(head_boxes).reshape(n, 4)
            return 0.6 * np.linalg.norm(hb[:, 2:] - hb[:, :2], axis=-1)
        raise ValueError(f"norm must be 'torso', 'bbox', 'head', 'pixels', None or an array, "
                         f"got {norm!r}")
    arr = _np(norm).reshape(-1)
    if arr.shape[0] != n:
        raise ValueError(f"norm array must have one value per sample ({n}), got {arr.shape}")
    return arr


def normalised_distances(pred, gt, visible=None, norm="torso", skeleton="semi_dgpose14",
                         head_boxes=None):
    """``(N, J)`` distances divided by each sample's normaliser; NaN where not scored.

    Non-finite predictions of scored joints give ``inf`` (always wrong). Also returns the number of
    samples left out because of their normaliser.
    """
    pred, gt, visible = _joints_pair(pred, gt, visible)
    scale = _normaliser(gt, visible, norm, skeleton, head_boxes)
    bad = ~np.isfinite(scale) | (scale <= 0)
    with np.errstate(invalid="ignore"):
        dist = np.linalg.norm(pred - gt, axis=-1)
    dist = np.where(np.isfinite(dist), dist, np.inf)
    d = dist / np.where(bad, 1.0, scale)[:, None]
    d = np.where(visible & ~bad[:, None], d, np.nan)
    return d, int(bad.sum())


@dataclass(frozen=True)
class PCKResult:
    """PCK at one threshold. ``per_joint`` is NaN for joints never scored."""

    value: float            # the convention's headline number
    pooled: float
    mean_per_joint: float
    per_joint: np.ndarray
    counts: np.ndarray      # scored samples per joint
    excluded_samples: int
    threshold: float

    def __float__(self):
        return float(self.value)


def _resolve(convention, **overrides):
    if convention is not None and convention not in PCK_CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; known: {sorted(PCK_CONVENTIONS)}")
    opts = dict(_DEFAULTS, **(PCK_CONVENTIONS.get(convention, {})))
    opts.update({k: v for k, v in overrides.items() if v is not _UNSET})
    if opts["reduce"] not in ("pooled", "mean_per_joint"):
        raise ValueError(f"reduce must be 'pooled' or 'mean_per_joint', got {opts['reduce']!r}")
    return opts


_UNSET = object()


def _accuracy(d, threshold, strict, reduce, excluded):
    scored = ~np.isnan(d)
    with np.errstate(invalid="ignore"):
        hit = (d < threshold) if strict else (d <= threshold)
    hit &= scored
    counts = scored.sum(0)
    per_joint = np.where(counts > 0, hit.sum(0) / np.maximum(counts, 1), np.nan)
    pooled = float(hit.sum() / scored.sum()) if scored.any() else float("nan")
    mean_pj = float(np.nanmean(per_joint)) if (counts > 0).any() else float("nan")
    value = pooled if reduce == "pooled" else mean_pj
    return PCKResult(value, pooled, mean_pj, per_joint, counts, excluded, float(threshold))


def pck(pred, gt, visible=None, threshold=0.5, norm=_UNSET, *, convention=None, strict=_UNSET,
        reduce=_UNSET, skeleton="semi_dgpose14", head_boxes=None) -> PCKResult:
    """Percentage of correct keypoints; see the module docstring for every rule.

    Args:
        pred, gt: ``(N, J, 2)`` (or ``(J, 2)``) joints in pixels, in ``skeleton`` order.
        visible: ``(N, J)`` ground-truth visibility; default: finite ground-truth joints.
        threshold: fraction of the normaliser (e.g. 0.5 for PCK@0.5, PCKh@0.5).
        norm: ``"torso"`` (default), ``"bbox"``, ``"head"``, ``"pixels"``/None or ``(N,)``.
        convention: ``"lsp"``, ``"mpii"`` or ``"mmpose"``; explicit arguments override it.
        strict: ``<`` (True) or ``<=`` (False).
        reduce: headline ``"pooled"`` or ``"mean_per_joint"``.
        skeleton: joint set, to find the torso joints.
        head_boxes: ``(N, 4)`` x1, y1, x2, y2 for ``norm="head"``.
    """
    opts = _resolve(convention, norm=norm, strict=strict, reduce=reduce)
    d, excluded = normalised_distances(pred, gt, visible, opts["norm"], skeleton, head_boxes)
    return _accuracy(d, threshold, opts["strict"], opts["reduce"], excluded)


def pck_curve(pred, gt, visible=None, thresholds=None, norm=_UNSET, *, convention=None,
              strict=_UNSET, reduce=_UNSET, skeleton="semi_dgpose14", head_boxes=None):
    """PCK at each of ``thresholds`` (default 0 to 1 in steps of 0.01): ``(thresholds, values)``."""
    thresholds = np.linspace(0.0, 1.0, 101) if thresholds is None else np.asarray(thresholds, float)
    opts = _resolve(convention, norm=norm, strict=strict, reduce=reduce)
    d, excluded = normalised_distances(pred, gt, visible, opts["norm"], skeleton, head_boxes)
    values = np.array([_accuracy(d, t, opts["strict"], opts["reduce"], excluded).value
                       for t in thresholds])
    return thresholds, values


def auc(pred, gt, visible=None, thresholds=None, **kwargs) -> float:
    """Area under the PCK curve over ``thresholds`` (trapezoid rule) divided by their range."""
    t, v = pck_curve(pred, gt, visible, thresholds, **kwargs)
    if t.size < 2 or t[-1] <= t[0]:
        raise ValueError("auc needs at least two increasing thresholds")
    return float(np.trapezoid(v, t) / (t[-1] - t[0]))


def epe(pred, gt, visible=None) -> float:
    """Mean end-point error (Euclidean distance in the input units) over visible joints."""
    pred, gt, visible = _joints_pair(pred, gt, visible)
    dist = np.linalg.norm(pred - gt, axis=-1)[visible]
    return float(dist.mean()) if dist.size else float("nan")


def mpjpe(pred, gt, alignment="none", visible=None, per_joint=False):
    """Mean per-joint position error over ``(N, J, D)`` joints.

    ``alignment``: ``"none"``; ``"scale"`` — N-MPJPE: ``pred`` scaled by
    ``Σ pred·gt / Σ pred·pred`` per sample (inputs should be root-relative, as in Rhodin et al.);
    ``"procrustes"`` — P-MPJPE: ``pred`` aligned to ``gt`` by rotation, scale and translation
    (:func:`dgpose_tf.geometry.procrustes_align`) over the visible joints. Returns a float, or the
    ``(J,)`` per-joint errors with ``per_joint=True``.
    """
    pred, gt, visible = _joints_pair(pred, gt, visible)
    w = visible.astype(np.float64)
    if alignment == "scale":
        num = (w[..., None] * pred * gt).sum((1, 2))
        den = (w[..., None] * pred * pred).sum((1, 2))
        pred = pred * np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)[:, None, None]
    elif alignment == "procrustes":
        from .geometry import procrustes_align
        pred = procrustes_align(pred, gt, w).numpy()
    elif alignment != "none":
        raise ValueError(f"alignment must be 'none', 'scale' or 'procrustes', got {alignment!r}")
    err = np.where(visible, np.linalg.norm(np.nan_to_num(pred - gt), axis=-1), 0.0)
    if per_joint:
        return err.sum(0) / np.maximum(visible.sum(0), 1)
    return float(err.sum() / max(visible.sum(), 1))


def mpjse(pred, gt, dt=1.0, visible=None) -> float:
    """Mean per-joint speed error of sequences ``(..., F, J, D)`` (pose-sequence thesis §4.4).

    ``(1 / (J F)) Σ_j Σ_{f<F} ‖(x_f − x_{f+1})/Δt − (x̃_f − x̃_{f+1})/Δt‖`` — the thesis divides by
    F although there are F − 1 differences; multiply by F / (F − 1) for the plain mean. With
    ``visible (..., F, J)`` a difference counts only if both frames are visible, and the divisor is
    the number of visible joint-frames (J·F when all are visible).
    """
    pred, gt = _np(pred), _np(gt)
    if pred.shape != gt.shape or pred.ndim < 3:
        raise ValueError(f"pred and gt must be equal (..., F, J, D) sequences, got {pred.shape}, "
                         f"{gt.shape}")
    vis = np.ones(gt.shape[:-1], bool) if visible is None else _np(visible, bool)
    vp = (pred[..., :-1, :, :] - pred[..., 1:, :, :]) / dt
    vg = (gt[..., :-1, :, :] - gt[..., 1:, :, :]) / dt
    ok = vis[..., :-1, :] & vis[..., 1:, :]
    err = np.where(ok, np.linalg.norm(np.nan_to_num(vp - vg), axis=-1), 0.0)
    return float(err.sum() / max(vis.sum(), 1))


def _images(a, b, max_val):
    import tensorflow as tf

    a_np, b_np = (x.numpy() if hasattr(x, "numpy") else np.asarray(x) for x in (a, b))
    if a_np.shape != b_np.shape:
        raise ValueError(f"images must have the same shape, got {a_np.shape} and {b_np.shape}")
    if a_np.ndim not in (3, 4):
        raise ValueError(f"images must be (H, W, C) or (N, H, W, C), got {a_np.shape}")
    for x in (a_np, b_np):
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            raise ValueError("images contain NaN or inf")
    if max_val is None:
        if a_np.dtype == np.uint8 and b_np.dtype == np.uint8:
            max_val = 255.0
        elif min(a_np.min(), b_np.min()) >= 0.0 and max(a_np.max(), b_np.max()) <= 1.0:
            max_val = 1.0
        else:
            raise ValueError("float images outside [0, 1]: pass max_val (the data range, e.g. "
                             "2.0 for images in [-1, 1])")
    return (tf.convert_to_tensor(a_np, tf.float32), tf.convert_to_tensor(b_np, tf.float32),
            float(max_val), a_np.ndim == 3)


def psnr(a, b, max_val=None):
    """Peak signal-to-noise ratio (``tf.image.psnr``), dB. Float for one pair, ``(N,)`` for a batch.

    ``max_val`` defaults to 255 for uint8 and 1 for floats in [0, 1].
    """
    import tensorflow as tf

    a, b, max_val, single = _images(a, b, max_val)
    v = tf.image.psnr(a, b, max_val=max_val).numpy()
    return float(v) if single else v


def ssim(a, b, max_val=None):
    """Structural similarity (``tf.image.ssim``, see the module docstring). Float or ``(N,)``."""
    import tensorflow as tf

    a, b, max_val, single = _images(a, b, max_val)
    if min(a.shape[-3], a.shape[-2]) < 11:
        raise ValueError(f"ssim needs images of at least 11×11 pixels, got {tuple(a.shape)}")
    v = tf.image.ssim(a, b, max_val=max_val, filter_size=11, filter_sigma=1.5, k1=0.01,
                      k2=0.03).numpy()
    return float(v) if single else v


def ssim_map(a, b, max_val=None):
    """Per-pixel SSIM ``(N, H − 10, W − 10)`` (mean over channels) on the valid region of the
    11×11 window, with :func:`ssim`'s constants: its mean over pixels is :func:`ssim`."""
    import tensorflow as tf

    a, b, max_val, single = _images(a, b, max_val)
    if single:
        a, b = a[None], b[None]
    c = a.shape[-1]
    g = np.exp(-0.5 * (np.arange(11) - 5.0) ** 2 / 1.5 ** 2)
    g = (g / g.sum()).astype(np.float32)
    win = tf.constant(np.tile(np.outer(g, g)[:, :, None, None], (1, 1, c, 1)))
    blur = lambda x: tf.nn.depthwise_conv2d(x, win, [1, 1, 1, 1], "VALID")
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / \
        ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    out = tf.reduce_mean(s, -1).numpy()
    return out[0] if single else out


def _mask_weights(mask, shape, crop=0):
    m = np.asarray(mask, np.float32)
    if m.shape != tuple(shape):
        raise ValueError(f"mask must have shape {tuple(shape)} (the images' N, H, W), got "
                         f"{m.shape}")
    return m[..., crop:m.shape[-2] - crop, crop:m.shape[-1] - crop] if crop else m


def masked_ssim(a, b, mask, max_val=None):
    """SSIM averaged over the pixels where ``mask`` (``(N, H, W)``, e.g. the renderer's person
    mask) is set, per image ``(N,)``; the mask is cropped to the map's valid region. An image
    whose mask is empty there gives NaN."""
    m = ssim_map(a, b, max_val)
    w = _mask_weights(mask, np.shape(a)[:-1], crop=5)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (m * w).sum((-2, -1)) / w.sum((-2, -1))


def masked_l1(a, b, mask):
    """Mean absolute difference over the pixels where ``mask`` (``(N, H, W)``) is set and over
    channels, per image ``(N,)`` (NaN where the mask is empty)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if a.shape != b.shape:
        raise ValueError(f"images must have the same shape, got {a.shape} and {b.shape}")
    w = _mask_weights(mask, a.shape[:-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.abs(a - b).mean(-1) * w).sum((-2, -1)) / w.sum((-2, -1))


def inception_score(images=None, classifier=None, probabilities=None, splits=10,
                    batch_size=64):
    """Inception Score ``exp(E_x KL(p(y|x) ‖ p(y)))``: ``(mean, std)`` over ``splits``.

    The Inception-v3 weights cannot be downloaded here (no network), so the classifier is the
    caller's: ``classifier(images_batch) -> (B, K)`` class probabilities. Alternatively pass
    ``probabilities`` ``(N, K)`` directly. The KL is computed by ``tfd.kl_divergence`` between
    categorical distributions.
    """
    import tensorflow as tf
    import tensorflow_probability as tfp

    tfd = tfp.distributions
    if probabilities is None:
        if images is None:
            raise ValueError("pass images (with a classifier) or probabilities")
        if classifier is None:
            raise ValueError(
                "inception_score needs a classifier: ImageNet Inception-v3 weights cannot be "
                "downloaded offline. Pass classifier=<callable images -> class probabilities> "
                "(e.g. a keras.applications.InceptionV3 built with weights from a local file), "
                "or probabilities=<(N, K) array>.")
        images = np.asarray(images)
        chunks = [np.asarray(classifier(images[i:i + batch_size]))
                  for i in range(0, len(images), batch_size)]
        probabilities = np.concatenate(chunks, 0)
    p = _np(probabilities)
    if p.ndim != 2:
        raise ValueError(f"probabilities must be (N, K), got {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any() or not np.allclose(p.sum(1), 1.0, atol=1e-3):
        raise ValueError("probabilities must be finite, non-negative and sum to 1 per row "
                         "(did the classifier return logits?)")
    if not 1 <= splits <= len(p):
        raise ValueError(f"splits must be between 1 and the number of samples ({len(p)})")
    scores = []
    for part in np.array_split(p, splits):
        cond = tfd.Categorical(probs=tf.constant(part))
        marg = tfd.Categorical(probs=tf.constant(part.mean(0, keepdims=True)))
        kl = tfd.kl_divergence(cond, marg).numpy()
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))
