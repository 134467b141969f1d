"""Three-Layer limb labels (:mod:`dgpose_tf.pose.three_layer`) for dataset records.

* From 3-D joints (Human3.6M, MPI-INF-3DHP): the joints are first taken into the camera frame
  (``X_cam = R (X_world − T)``, the record's ``camera`` R and T) unless ``frame="camera"``; the
  margin is in the 3-D units (Human3.6M: millimetres, default 50 mm — about half a limb's
  thickness).
* DeepFashion has only 2-D joints: the thesis labelled depth by hand. :func:`load_label_file`
  reads such labels, one line per image: ``name,l1,…,l8`` (the 8 limbs in
  :data:`~dgpose_tf.pose.three_layer.LIMBS_25D` order, each −1, 0 or 1; ``#`` comments). An image
  without a line gets all 0 (every limb on the torso plane: the 2-D stickman in Three-Layer
  colours).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..pose.three_layer import LIMBS_25D, depth_only_labels, occlusion_labels, stick_joints
from .records import PoseRecord

__all__ = ["record_labels", "load_label_file", "labels_for"]


def record_labels(record: PoseRecord, rule="occlusion", margin=50.0, thickness=None, size=None,
                  frame="world"):
    """``(8,)`` int8 labels of a record with 3-D joints.

    ``frame``: "world" (convert with the record's camera R, T first — Human3.6M's ``S`` arrays
    from the original release) or "camera" (already camera coordinates, e.g. SPIN's npz).
    ``size``: the image size the footprints are rasterised at (default: enclosing the joints);
    ``thickness``: limb stroke in pixels (default size/16)."""
    if record.joints3d is None:
        raise ValueError(f"{record.image}: no 3-D joints; pass a label file instead")
    if rule not in ("occlusion", "depth"):
        raise ValueError(f"rule must be 'occlusion' or 'depth', got {rule!r}")
    X = np.asarray(record.joints3d, np.float64)
    if frame == "world":
        cam = record.camera or {}
        if "R" not in cam or "T" not in cam:
            raise ValueError(f"{record.image}: world-frame 3-D joints need the camera's R and T "
                             "(or frame='camera' if they are camera coordinates already)")
        R, T = np.asarray(cam["R"], np.float64), np.asarray(cam["T"], np.float64).reshape(3)
        X = (X - T) @ R.T
    elif frame != "camera":
        raise ValueError(f"frame must be 'world' or 'camera', got {frame!r}")
    uv13, valid = stick_joints(record.joints, record.skeleton, record.visible)
    z13, zvalid = stick_joints(X[:, 2:], record.skeleton)
    valid &= zvalid
    if rule == "depth":
        return depth_only_labels(z13[:, 0], margin)
    if size is None:
        size = int(np.ceil(np.nanmax(np.where(valid[:, None], uv13, 0)))) + 2
    thickness = size / 16 if thickness is None else thickness
    return occlusion_labels(uv13, z13[:, 0], size, thickness, margin, valid)


def load_label_file(path):
    """``{image name: (8,) int8}`` from a label file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"depth label file not found: {path}")
    out = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 1 + len(LIMBS_25D):
            raise ValueError(f"{path}:{n}: expected a name and {len(LIMBS_25D)} labels, got "
                             f"{len(parts) - 1}")
        try:
            labels = np.array([int(p) for p in parts[1:]], np.int8)
        except ValueError:
            raise ValueError(f"{path}:{n}: labels must be integers -1, 0 or 1") from None
        if not np.isin(labels, (-1, 0, 1)).all():
            raise ValueError(f"{path}:{n}: labels must be -1, 0 or 1, got {labels.tolist()}")
        out[parts[0]] = labels
    return out


def labels_for(records, label_file=None, **kwargs):
    """``(N, 8)`` labels: from the label file by image name (basename) where given, else from 3-D
    joints where the record has them, else 0."""
    table = load_label_file(label_file) if label_file else {}
    out = np.zeros((len(records), len(LIMBS_25D)), np.int8)
    for i, r in enumerate(records):
        name = Path(r.image).name
        if name in table:
            out[i] = table[name]
        elif r.joints3d is not None:
            out[i] = record_labels(r, **kwargs)
    return out
