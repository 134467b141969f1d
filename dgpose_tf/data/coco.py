"""COCO person keypoints JSON (``person_keypoints_*.json``).

Each annotation's ``keypoints`` is 17 × (x, y, v) with v = 0 not labelled, 1 labelled but not
visible, 2 labelled and visible. Records: ``visible`` = v > 0 (usable), ``occluded`` = v == 1.
Crowd annotations and people without keypoints are skipped. ``person_id`` is the annotation id.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .records import PoseRecord, readable

__all__ = ["load_coco"]


@readable("COCO keypoints JSON")
def load_coco(path, image_dir="images", min_keypoints=1):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"COCO annotations not found: {path}")
    data = json.loads(path.read_text())
    files = {im["id"]: im["file_name"] for im in data["images"]}
    out = []
    for a in data["annotations"]:
        if a.get("iscrowd", 0) or a.get("num_keypoints", 1) < min_keypoints:
            continue
        kp = np.asarray(a["keypoints"], np.float64)
        if kp.size != 51:
            raise ValueError(f"{path}: annotation {a.get('id')} has {kp.size} keypoint values, "
                             f"expected 17 x 3 = 51")
        kp = kp.reshape(17, 3)
        out.append(PoseRecord(str(Path(image_dir) / files[a["image_id"]]), kp[:, :2], kp[:, 2] > 0,
                              "coco17", kp[:, 2] == 1, person_id=a.get("id"),
                              extra={"bbox": np.asarray(a.get("bbox", [np.nan] * 4), float)}))
    return out
