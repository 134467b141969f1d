"""MPII Human Pose: the official ``mpii_human_pose_v1_u12_1.mat`` and the common JSON conversion.

* Official ``.mat``: ``RELEASE.annolist(i).image.name``, ``.annorect(k)`` with the head box
  ``x1, y1, x2, y2``, ``objpos``, ``scale`` and ``annopoints.point(p)`` with ``id`` (0–15),
  ``x``, ``y`` and ``is_visible``; ``RELEASE.img_train(i)`` marks the training images. Joints
  absent from ``annopoints`` are not annotated.
* JSON (as used by HRNet / mmpose): a list of ``{"image", "center", "scale", "joints" (16 × 2),
  "joints_vis" (16)}``.

Both store MATLAB 1-based coordinates; records are 0-based. Head boxes (for PCKh) are in
``extra["head_box"]`` as x1, y1, x2, y2 when the source has them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .records import PoseRecord, readable

__all__ = ["load_mpii_json", "load_mpii_mat"]


@readable("MPII JSON")
def load_mpii_json(path, image_dir="images"):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"MPII JSON not found: {path}")
    out = []
    for i, a in enumerate(json.loads(path.read_text())):
        joints = np.asarray(a["joints"], np.float64)
        if joints.shape != (16, 2):
            raise ValueError(f"{path} entry {i}: 'joints' must be 16 x 2, got {joints.shape}")
        vis = np.asarray(a["joints_vis"]).astype(bool)
        out.append(PoseRecord(str(Path(image_dir) / a["image"]), joints - 1.0, vis, "mpii16",
                              extra={"center": np.asarray(a["center"], float) - 1.0,
                                     "scale": float(a["scale"])}))
    return out


def _list(x):
    if x is None:
        return []
    if isinstance(x, np.ndarray):
        return list(x.ravel())
    return [x]


@readable("MPII annotation .mat")
def load_mpii_mat(path, image_dir="images", train_only=False):
    from scipy.io import loadmat

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"MPII annotations not found: {path}")
    release = loadmat(str(path), struct_as_record=False, squeeze_me=True)["RELEASE"]
    train = np.atleast_1d(release.img_train).astype(bool)
    out = []
    for i, ann in enumerate(_list(release.annolist)):
        if train_only and not train[i]:
            continue
        for k, rect in enumerate(_list(getattr(ann, "annorect", None))):
            points = getattr(getattr(rect, "annopoints", None), "point", None)
            if points is None or (isinstance(points, np.ndarray) and points.size == 0):
                continue
            joints = np.zeros((16, 2))
            vis = np.zeros(16, bool)
            occ = np.zeros(16, bool)
            for p in _list(points):
                j = int(p.id)
                joints[j] = [float(p.x) - 1.0, float(p.y) - 1.0]
                vis[j] = True
                v = getattr(p, "is_visible", 1)
                occ[j] = str(v).strip() in ("0", "0.0", "False")
            extra = {"train": bool(train[i]), "rect": k}
            if all(hasattr(rect, a) for a in ("x1", "y1", "x2", "y2")):
                extra["head_box"] = np.array([rect.x1, rect.y1, rect.x2, rect.y2], float) - 1.0
            if hasattr(rect, "objpos"):
                extra["center"] = np.array([rect.objpos.x, rect.objpos.y], float) - 1.0
                extra["scale"] = float(rect.scale)
            out.append(PoseRecord(str(Path(image_dir) / ann.image.name), joints, vis, "mpii16",
                                  occ, extra=extra))
    return out
