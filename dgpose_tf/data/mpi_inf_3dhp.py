"""MPI-INF-3DHP training sequences: ``annot.mat`` and ``camera.calibration``.

``annot.mat`` holds, per camera k (cell arrays of 14): ``annot2{k}`` (frames × 56: 28 joints ×
(x, y) pixels), ``annot3{k}`` (frames × 84: camera-frame millimetres) and ``univ_annot3{k}``
(height-normalised "universal" skeleton), plus ``cameras`` and ``frames``. Joints are in the
``mpi_inf_3dhp28`` order. Images are the frames of ``imageSequence/video_k.avi``; records name
them ``imageFrames/video_k/frame_%06d.jpg`` (1-based frame numbers), the usual extraction.

``camera.calibration`` ("Skeletool Camera Calibration File V1.0") gives per camera a 4×4
``intrinsic`` and ``extrinsic`` (row-major; extrinsic maps world mm to camera mm).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .records import PoseRecord

__all__ = ["load_calibration", "load_mpi_inf_3dhp"]


def load_calibration(path):
    """``{camera: {"K": 3x3, "R": 3x3, "t": (3,) mm, "size": (w, h)}}``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"MPI-INF-3DHP calibration not found: {path}")
    cams, cur = {}, None
    for line in path.read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "name":
            cur = cams.setdefault(int(parts[1]), {})
        elif cur is not None and parts[0] == "size":
            cur["size"] = (int(parts[1]), int(parts[2]))
        elif cur is not None and parts[0] in ("intrinsic", "extrinsic"):
            m = np.array(parts[1:17], float).reshape(4, 4)
            if parts[0] == "intrinsic":
                cur["K"] = m[:3, :3]
            else:
                cur["R"], cur["t"] = m[:3, :3], m[:3, 3]
    if not cams:
        raise ValueError(f"{path}: no cameras found (is it a Skeletool calibration file?)")
    return cams


def _cell(x):
    x = np.asarray(x, dtype=object) if not isinstance(x, np.ndarray) else x
    return [np.asarray(c, float) for c in x.ravel()]


def load_mpi_inf_3dhp(annot_mat, calibration=None, cameras=None, every=1, universal=False,
                      image_dir=None):
    """Records for the chosen ``cameras`` (default all) and every ``every``-th frame."""
    from scipy.io import loadmat

    annot_mat = Path(annot_mat)
    if not annot_mat.exists():
        raise FileNotFoundError(f"MPI-INF-3DHP annotations not found: {annot_mat}")
    mat = loadmat(str(annot_mat))
    a2, a3 = _cell(mat["annot2"]), _cell(mat["univ_annot3" if universal else "annot3"])
    cam_ids = np.asarray(mat["cameras"]).ravel().astype(int) if "cameras" in mat \
        else np.arange(len(a2))
    calib = load_calibration(calibration) if calibration is not None else {}
    base = Path(image_dir) if image_dir is not None else annot_mat.parent / "imageFrames"
    out = []
    for k, cam in enumerate(cam_ids):
        if cameras is not None and cam not in cameras:
            continue
        j2, j3 = a2[k], a3[k]
        if j2.shape[1] != 56 or j3.shape[1] != 84:
            raise ValueError(f"{annot_mat}: camera {cam} annot2/annot3 have {j2.shape[1]}/"
                             f"{j3.shape[1]} columns, expected 56/84 (28 joints)")
        for f in range(0, len(j2), every):
            out.append(PoseRecord(str(base / f"video_{cam}" / f"frame_{f + 1:06d}.jpg"),
                                  j2[f].reshape(28, 2), np.ones(28, bool), "mpi_inf_3dhp28",
                                  joints3d=j3[f].reshape(28, 3), camera=calib.get(int(cam)),
                                  extra={"camera_id": int(cam), "frame": f}))
    return out
