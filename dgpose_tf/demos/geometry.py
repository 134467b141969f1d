"""``dgpose geometry-demo``: exercises the pose geometry end to end and draws what it did.

Random 2-D stick figures (a small planar forward-kinematics model, enough to exercise the
geometry) are encoded as the 24 Semi-DGPose heatmaps and the 48-dim pose vector, decoded back,
converted through every joint set, perturbed and scored, and aligned by Procrustes.
"""

from __future__ import annotations

import time

import numpy as np

from .. import metrics
from ..pose import (conversion, decode_heatmaps, list_skeletons, pose_vector,
                   pose_vector_to_joints, semi_dgpose_heatmaps)
from ..pose.draw import draw_skeleton, heatmap_overlay, image_grid

# (joint, parent, length as a fraction of the image, rest angle in degrees, angle range)
_CHAIN = (
    ("neck", None, 0.0, 0, 0),
    ("head_top", "neck", 0.13, -90, 15),
    ("right_shoulder", "neck", 0.10, 180, 10),
    ("left_shoulder", "neck", 0.10, 0, 10),
    ("right_elbow", "right_shoulder", 0.14, 100, 70),
    ("right_wrist", "right_elbow", 0.13, 90, 80),
    ("left_elbow", "left_shoulder", 0.14, 80, 70),
    ("left_wrist", "left_elbow", 0.13, 90, 80),
    ("right_hip", "neck", 0.30, 105, 4),
    ("left_hip", "neck", 0.30, 75, 4),
    ("right_knee", "right_hip", 0.20, 95, 30),
    ("right_ankle", "right_knee", 0.19, 90, 25),
    ("left_knee", "left_hip", 0.20, 85, 30),
    ("left_ankle", "left_knee", 0.19, 90, 25),
)


def random_stick_poses(n, size=64, seed=0):
    """``(n, 14, 2)`` Semi-DGPose joints in pixels of planar stick figures centred in the frame."""
    from ..pose import get_skeleton

    skel = get_skeleton("semi_dgpose14")
    rng = np.random.default_rng(seed)
    pts = {}
    for joint, parent, length, rest, spread in _CHAIN:
        if parent is None:
            pts[joint] = np.zeros((n, 2))
            continue
        ang = np.deg2rad(rest + rng.uniform(-spread, spread, n))
        pts[joint] = pts[parent] + length * np.stack([np.cos(ang), np.sin(ang)], -1)
    joints = np.stack([pts[j] for j in skel.joints], 1)
    lo, hi = joints.min(1, keepdims=True), joints.max(1, keepdims=True)
    scale = 0.8 / (hi - lo).max(-1, keepdims=True)
    centred = (joints - 0.5 * (lo + hi)) * scale
    return ((centred + 0.5) * size - 0.5).astype(np.float32)


def run_geometry_demo(out="dgpose_demo.png", n=64, seed=0, size=64):
    import cv2

    from ..geometry import procrustes_align

    t0 = time.perf_counter()
    gt = random_stick_poses(n, size, seed)
    rows = []

    hm = semi_dgpose_heatmaps(gt, size=size)
    dec, _ = decode_heatmaps(hm[..., :14])
    rows.append(("heatmap round trip: max error (px)", np.abs(dec - gt).max()))
    vec, _ = pose_vector(gt, size=size)
    rows.append(("pose vector (48) round trip: max error (px)",
                 np.abs(pose_vector_to_joints(vec, size) - gt).max()))

    rng = np.random.default_rng(seed + 1)
    noisy = gt + rng.normal(0.0, size / 32.0, gt.shape)
    for thr in (0.2, 0.5):
        rows.append((f"noisy joints (sigma {size / 32:.0f} px): PCK@{thr} torso, LSP convention",
                     metrics.pck(noisy, gt, threshold=thr, convention="lsp").value))
    rows.append(("noisy joints: AUC of PCK over [0, 0.5]",
                 metrics.auc(noisy, gt, thresholds=np.linspace(0, 0.5, 51), convention="lsp")))
    rows.append(("noisy joints: EPE (px)", metrics.epe(noisy, gt)))

    worst = 0.0
    for name in list_skeletons():
        there, vis = conversion("semi_dgpose14", name)(gt)
        home = conversion(name, "semi_dgpose14")
        back, vis_back = home(there, vis)
        exact = vis_back & np.array([j not in home.approximations for j in home.target.joints])
        worst = max(worst, float(np.abs(back - gt)[exact].max()))
    rows.append(("conversion to every joint set and back: max error (px)", worst))

    ang = rng.uniform(-np.pi, np.pi, n)
    rot = np.stack([np.stack([np.cos(ang), -np.sin(ang)], -1),
                    np.stack([np.sin(ang), np.cos(ang)], -1)], -2)
    moved = rng.uniform(0.5, 2.0, (n, 1, 1)) * np.einsum("nij,nkj->nki", rot, gt) + 7.0
    mask = rng.random((n, 14)) > 0.4
    mask[:, :2] = True
    back = procrustes_align(moved, gt, mask).numpy()
    rows.append(("Procrustes with 40% joints masked: max error (px)", np.abs(back - gt).max()))

    k = min(8, n)
    up = 4
    big = lambda im: cv2.resize(im, (size * up, size * up), interpolation=cv2.INTER_NEAREST)
    grey = np.full((size * up, size * up, 3), 40, np.uint8)
    sheet = []
    for i in range(k):
        sheet.append(draw_skeleton(grey, gt[i] * up + (up - 1) / 2))
    for i in range(k):
        sheet.append(heatmap_overlay(grey, big(hm[i, ..., :14])))
    for i in range(k):
        sheet.append(heatmap_overlay(grey, big(hm[i, ..., 14:23])))
    for i in range(k):
        sheet.append(draw_skeleton(heatmap_overlay(grey, big(hm[i, ..., 23:])),
                                   dec[i] * up + (up - 1) / 2))
    cv2.imwrite(out, cv2.cvtColor(image_grid(np.stack(sheet), cols=k), cv2.COLOR_RGB2BGR))

    width = max(len(r[0]) for r in rows)
    print(f"dgpose demo: {n} random poses at {size}x{size}, seed {seed}")
    for label, value in rows:
        print(f"  {label:<{width}}  {value:10.6f}")
    print(f"sheet (rows: skeletons, joint / part / body heatmaps with decoded joints): {out}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0
