"""Leeds Sports Pose (LSP) and LSP-extended ``joints.mat``.

* LSP: ``joints`` is 3 × 14 × 2000; rows x, y and a flag that is 1 when the joint is *occluded*
  (every joint is annotated, occluded ones by estimate). Images ``images/im0001.jpg`` ….
* LSP-extended: ``joints`` is 14 × 3 × 10000; columns x, y and a flag that is 1 when the joint is
  *visible*; invisible joints are not usable. Images ``images/im00001.jpg`` ….

Which of the two a file is, is decided by the array's shape and reported in ``extra["variant"]``.
Coordinates are MATLAB 1-based and are shifted to 0-based. Left/right are person-centric.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .records import PoseRecord, readable

__all__ = ["load_lsp"]


@readable("LSP joints.mat")
def load_lsp(joints_mat, image_dir=None):
    """Records of a ``joints.mat`` (either variant, detected by shape)."""
    from scipy.io import loadmat

    path = Path(joints_mat)
    if not path.exists():
        raise FileNotFoundError(f"LSP annotations not found: {path}")
    joints = np.asarray(loadmat(str(path))["joints"], np.float64)
    image_dir = Path(image_dir) if image_dir is not None else path.parent / "images"
    if joints.shape[:2] == (3, 14):
        variant, xy, flag = "lsp", joints[:2].transpose(2, 1, 0), joints[2].T
        visible, occluded = np.ones_like(flag, bool), flag > 0.5
        name = "im{:04d}.jpg"
    elif joints.shape[:2] == (14, 3):
        variant, xy, flag = "lsp_extended", joints[:, :2].transpose(2, 0, 1), joints[:, 2].T
        visible, occluded = flag > 0.5, None
        name = "im{:05d}.jpg"
    else:
        raise ValueError(f"{path}: 'joints' has shape {joints.shape}; expected 3x14xN (LSP) or "
                         f"14x3xN (LSP-extended)")
    return [PoseRecord(str(image_dir / name.format(i + 1)), xy[i] - 1.0, visible[i], "lsp14",
                       None if occluded is None else occluded[i], extra={"variant": variant})
            for i in range(xy.shape[0])]
