"""ChictopiaPlus as written by the ClothNet tooling (Lassner et al. 2017).

Layout: ``<root>/<split>/<index>_<key>:<ext>.<ext>`` with ``split`` in train / val / test,
``index`` zero-padded (5 digits in train, 4 in val and test), every image 286 × 286, e.g.
``00042_image:png.png`` (the photo), ``00042_label_vis:png.png`` (coloured clothing labels),
``00042_labels:png.png``, ``00042_bodysegments:png.png``. Horizontally flipped copies are separate
samples with their own index; no pairing between a sample and its flipped copy is inferred.

Joints: the tooling's joint file is not documented in any source available here. This loader
reads a companion ``<index><joints_suffix>`` (default ``_joints:npy.npy``, a NumPy array of 14 LSP
joints as (2|3, 14) or (14, 2|3), x then y, optional third row/column = visibility) when it
exists; pass ``joints_suffix`` for another name. Without it a record has no usable joints
(``visible`` all False) but still lists the image and its companion files in
``extra["files"]``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .records import PoseRecord

__all__ = ["IMAGE_SIZE", "load_chictopia"]

IMAGE_SIZE = 286
_NAME = re.compile(r"^(\d+)(_[^.]+)\.\w+$")


def _joints(path):
    a = np.load(path)
    if a.shape in ((2, 14), (3, 14)):
        a = a.T
    if a.shape not in ((14, 2), (14, 3)):
        raise ValueError(f"{path}: joints must be (2|3, 14) or (14, 2|3) LSP joints, got {a.shape}")
    vis = a[:, 2] > 0 if a.shape[1] == 3 else np.isfinite(a[:, :2]).all(-1)
    return a[:, :2].astype(np.float64), vis


def load_chictopia(root, split="train", joints_suffix="_joints:npy.npy"):
    """Records of one split, in index order."""
    folder = Path(root) / split
    if not folder.is_dir():
        raise FileNotFoundError(f"ChictopiaPlus split folder not found: {folder}")
    samples = {}
    for f in folder.iterdir():
        m = _NAME.match(f.name)
        if m:
            samples.setdefault(m.group(1), {})[m.group(2).lstrip("_")] = str(f)
    out = []
    for index in sorted(samples, key=int):
        files = samples[index]
        if "image:png" not in files:
            continue
        jpath = folder / f"{index}{joints_suffix}"
        if jpath.exists():
            joints, vis = _joints(jpath)
        else:
            joints, vis = np.full((14, 2), np.nan), np.zeros(14, bool)
        out.append(PoseRecord(files["image:png"], joints, vis, "lsp14", person_id=int(index),
                              extra={"files": files, "split": split,
                                     "size": (IMAGE_SIZE, IMAGE_SIZE)}))
    if not out:
        raise ValueError(f"{folder} holds no '<index>_image:png.png' files")
    return out
