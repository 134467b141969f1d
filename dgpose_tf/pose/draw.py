"""Pictures of poses: skeletons over images and heatmap overlays (OpenCV, RGB uint8)."""

from __future__ import annotations

import numpy as np

from .skeletons import get_skeleton

__all__ = ["draw_skeleton", "heatmap_overlay", "image_grid"]


def draw_skeleton(image, joints, visible=None, skeleton="semi_dgpose14", thickness=None,
                  occluded=None):
    """Draw limbs (coloured by side) and joints on a copy of an RGB ``uint8`` image ``(H, W, 3)``.

    ``visible`` False hides a joint and its limbs; ``occluded`` True (labelled but hidden behind
    the body) draws the joint as a hollow circle and its limbs thin.
    """
    import cv2

    skel = get_skeleton(skeleton)
    img = np.ascontiguousarray(np.asarray(image, dtype=np.uint8).copy())
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {img.shape}")
    joints = np.asarray(joints, dtype=np.float64)
    if joints.shape != (skel.num_joints, 2):
        raise ValueError(f"joints must be ({skel.num_joints}, 2) for {skel.name!r}, "
                         f"got {joints.shape}")
    vis = np.isfinite(joints).all(-1) if visible is None else np.asarray(visible, bool)
    occ = np.zeros(skel.num_joints, bool) if occluded is None else np.asarray(occluded, bool)
    t = thickness or max(1, round(min(img.shape[:2]) / 64))
    shift = 4  # sub-pixel drawing: coordinates scaled by 2**shift
    pts = np.round(np.nan_to_num(joints) * (1 << shift)).astype(np.int64)
    for (a, b), colour in zip(skel.limb_indices, skel.limb_colors):
        if vis[a] and vis[b]:
            width = t if not (occ[a] or occ[b]) else max(1, t // 2)
            cv2.line(img, tuple(map(int, pts[a])), tuple(map(int, pts[b])), colour, width,
                     cv2.LINE_AA, shift)
    for j in range(skel.num_joints):
        if vis[j]:
            fill = -1 if not occ[j] else max(1, t // 2)
            cv2.circle(img, tuple(map(int, pts[j])), (t + 1) << shift, (255, 255, 255), fill,
                       cv2.LINE_AA, shift)
    return img


def heatmap_overlay(image, heatmaps, alpha=0.6):
    """Blend the per-pixel maximum of ``heatmaps (H, W, K)`` or ``(H, W)`` (values in [0, 1])."""
    import cv2

    img = np.asarray(image, dtype=np.uint8)
    hm = np.asarray(heatmaps, np.float32)
    hm = np.clip(hm.max(-1) if hm.ndim == 3 else hm, 0.0, 1.0)
    if hm.shape != img.shape[:2]:
        hm = cv2.resize(hm, img.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    colour = cv2.applyColorMap((hm * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    a = (alpha * hm)[..., None]
    return (img * (1 - a) + colour * a).astype(np.uint8)


def image_grid(images, cols, pad=2, value=255):
    """Tile equally sized RGB images ``(N, H, W, 3)`` into one picture, ``cols`` per row."""
    images = np.asarray(images, dtype=np.uint8)
    n, h, w, c = images.shape
    rows = -(-n // cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), value, np.uint8)
    for i, im in enumerate(images):
        r, q = divmod(i, cols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = im
    return out
