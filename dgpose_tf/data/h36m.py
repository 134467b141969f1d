"""Human3.6M in the common ``.npz`` preprocessing (as released with SPIN and similar projects).

Keys: ``imgname`` (N,) like ``S9_Directions_1.54138969_000001.jpg``, ``center`` (N, 2),
``scale`` (N,), ``part`` (N, 17, 3) = 2-D joints in pixels (0-based) + visibility, ``S``
(N, 17, 4) = 3-D joints + confidence (optional), all in the ``h36m17`` order. The subject and
camera are parsed from ``imgname``. Standard split: subjects 1, 5, 6, 7, 8 train; 9, 11 test.
Cameras (R, T, f, c, k, p as :func:`dgpose_tf.geometry.project_points` takes them) may be given
per ``(subject, camera_id)``. ``semi_dgpose14`` records come from :func:`to_semi_dgpose14`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .records import PoseRecord, readable, to_skeleton

__all__ = ["TRAIN_SUBJECTS", "TEST_SUBJECTS", "load_h36m_npz", "to_semi_dgpose14"]

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")
_NAME = re.compile(r"(S\d+)_.*?\.(\d{8})_")


@readable("Human3.6M npz")
def load_h36m_npz(path, image_dir="images", split=None, cameras=None):
    """Records of an npz; ``split`` = "train" | "test" | None (all)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Human3.6M npz not found: {path}")
    data = np.load(path, allow_pickle=False)
    for key in ("imgname", "part"):
        if key not in data:
            raise ValueError(f"{path} has no {key!r} array (keys: {sorted(data.keys())})")
    part = data["part"]
    if part.ndim != 3 or part.shape[1:] != (17, 3):
        raise ValueError(f"{path}: 'part' must be (N, 17, 3) in h36m17 order, got {part.shape}")
    S = data["S"] if "S" in data else None
    if S is not None and S.shape != (len(part), 17, 4):
        raise ValueError(f"{path}: 'S' must be (N, 17, 4), got {S.shape}")
    wanted = {"train": TRAIN_SUBJECTS, "test": TEST_SUBJECTS, None: None}[split]
    out = []
    for i, name in enumerate(data["imgname"]):
        name = str(name)
        m = _NAME.search(Path(name).name)
        subject, cam = (m.group(1), m.group(2)) if m else (None, None)
        if wanted is not None and subject not in wanted:
            continue
        extra = {"subject": subject, "camera_id": cam}
        for key in ("center", "scale"):
            if key in data:
                extra[key] = data[key][i]
        out.append(PoseRecord(str(Path(image_dir) / name), part[i, :, :2], part[i, :, 2] > 0,
                              "h36m17", joints3d=None if S is None else S[i, :, :3],
                              camera=None if cameras is None else cameras.get((subject, cam)),
                              person_id=subject, extra=extra))
    return out


def to_semi_dgpose14(record: PoseRecord) -> PoseRecord:
    """The Semi-DGPose 14 joints (neck approximated by the thorax, head top by H36M's head)."""
    return to_skeleton(record, "semi_dgpose14")
