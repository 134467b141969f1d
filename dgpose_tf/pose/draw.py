"""Pictures of poses: skeletons over images and heatmap overlays (OpenCV, RGB uint8)."""

from __future__ import annotations

import numpy as np

from .skeletons import get_skeleton

__all__ = ["draw_skeleton", "heatmap_overlay", "image_grid", "headed_grid", "line_plot"]


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


_PALETTE = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189),
            (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]



def headed_grid(tiles, columns, pad=2):
    """Equal tiles in rows of ``len(columns)`` under a white header naming the columns (RGB)."""
    import cv2

    grid = image_grid(tiles, cols=len(columns), pad=pad)
    head = np.full((22, grid.shape[1], 3), 255, np.uint8)
    step = tiles.shape[2] + pad
    for i, name in enumerate(columns):
        cv2.putText(head, name, (4 + i * step, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return np.concatenate([head, grid], 0)

def line_plot(series, xlabel="", ylabel="", title="", size=(560, 400), ylim=(0.0, 1.0)):
    """A line chart as an RGB image: ``series`` maps a legend label to ``(x, y)`` arrays."""
    import cv2

    w, h = size
    left, right, top, bottom = 60, 20, 30, 45
    img = np.full((h, w, 3), 255, np.uint8)
    xs = np.concatenate([np.asarray(x, float) for x, _ in series.values()])
    x0, x1 = float(xs.min()), float(xs.max())
    y0, y1 = ylim
    to_px = lambda x, y: (left + (x - x0) / max(x1 - x0, 1e-12) * (w - left - right),
                          h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom))
    font = cv2.FONT_HERSHEY_SIMPLEX
    for k in range(6):                                   # grid and tick labels
        fx, fy = x0 + k * (x1 - x0) / 5, y0 + k * (y1 - y0) / 5
        px, _ = to_px(fx, y0)
        _, py = to_px(x0, fy)
        cv2.line(img, (int(px), top), (int(px), h - bottom), (225, 225, 225), 1)
        cv2.line(img, (left, int(py)), (w - right, int(py)), (225, 225, 225), 1)
        cv2.putText(img, f"{fx:.2g}", (int(px) - 10, h - bottom + 16), font, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
        cv2.putText(img, f"{fy:.2g}", (8, int(py) + 4), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.rectangle(img, (left, top), (w - right, h - bottom), (0, 0, 0), 1)
    for i, (name, (x, y)) in enumerate(series.items()):
        colour = _PALETTE[i % len(_PALETTE)]
        pts = np.array([to_px(a, b) for a, b in zip(np.asarray(x, float), np.asarray(y, float))])
        cv2.polylines(img, [np.round(pts * 16).astype(np.int32)], False, colour, 2, cv2.LINE_AA,
                      4)
        cv2.line(img, (left + 10, top + 14 + 16 * i), (left + 30, top + 14 + 16 * i), colour, 2)
        cv2.putText(img, name, (left + 36, top + 18 + 16 * i), font, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    cv2.putText(img, xlabel, (w // 2 - 4 * len(xlabel), h - 10), font, 0.45, (0, 0, 0), 1,
                cv2.LINE_AA)
    cv2.putText(img, ylabel, (left, top - 16 if not title else top - 4), font, 0.45, (0, 0, 0),
                1, cv2.LINE_AA)
    if title:
        cv2.putText(img, title, (left, 16), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return img
