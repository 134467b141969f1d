"""DeepFashion pose-transfer split (Ma et al. 2017; Siarohin et al. 2018).

* ``fasion-annotation-{train,test}.csv``: ':'-separated with header ``name:keypoints_y:keypoints_x``;
  each keypoint field is a list of 18 integers in OpenPose COCO-18 order, **y before x**, −1 for a
  missing keypoint. Images are 256 × 176 (height × width).
* ``fasion-pairs-{train,test}.csv``: comma-separated ``from,to`` image names.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from .records import PoseRecord, readable

__all__ = ["load_deepfashion_annotations", "load_deepfashion_pairs"]


@readable("DeepFashion annotation CSV")
def load_deepfashion_annotations(path, image_dir="images"):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"DeepFashion annotation CSV not found: {path}")
    out = []
    with path.open() as fh:
        reader = csv.reader(fh, delimiter=":")
        header = [h.strip() for h in next(reader)]
        if header != ["name", "keypoints_y", "keypoints_x"]:
            raise ValueError(f"{path}: header {header}, expected name:keypoints_y:keypoints_x")
        for row in reader:
            if not row:
                continue
            name, ys, xs = (c.strip() for c in row)
            y, x = np.asarray(json.loads(ys), float), np.asarray(json.loads(xs), float)
            if y.shape != (18,) or x.shape != (18,):
                raise ValueError(f"{path}: {name} has {y.size}/{x.size} keypoints, expected 18")
            missing = (y == -1) | (x == -1)
            joints = np.where(missing[:, None], np.nan, np.stack([x, y], -1))
            out.append(PoseRecord(str(Path(image_dir) / name), joints, ~missing, "openpose18"))
    return out


@readable("DeepFashion pairs CSV")
def load_deepfashion_pairs(path):
    """``[(from_name, to_name), …]`` of a ``fasion-pairs-*.csv``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"DeepFashion pairs CSV not found: {path}")
    with path.open() as fh:
        rows = list(csv.reader(fh))
    if not rows or [h.strip() for h in rows[0]] != ["from", "to"]:
        raise ValueError(f"{path}: expected a 'from,to' header")
    return [(a.strip(), b.strip()) for a, b in rows[1:] if a]
