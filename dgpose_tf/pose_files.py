"""``dgpose pose``: photos in, a COCO-results-style JSON of joints out (what ``dgpose inpaint``
and ``dgpose transfer`` read), with overlays.

Each detection is ``{"image_id": photo path, "category_id": 1, "keypoints": [x, y, confidence,
…], "score": mean confidence, "skeleton": name, "keypoint_names": […], "image_size": [w, h]}``,
joints in the photo's pixels (x right, y down). ``--boxes`` is a JSON file mapping a photo's
file name (or path) to its person's box ``[x, y, w, h]``. Overlays (``--draw DIR``): limbs
coloured left/right, joints below ``--min-confidence`` drawn hollow with thin limbs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .data.photos import PhotoError, read_photo

__all__ = ["PHOTO_SUFFIXES", "collect_photos", "detections", "draw_pose", "pose_files"]

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def collect_photos(paths):
    """Files as given and the photos (by suffix, sorted) in folders."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.suffix.lower() in PHOTO_SUFFIXES)
        elif p.is_file():
            out.append(p)
        else:
            raise PhotoError(f"photo or folder not found: {p}")
    if not out:
        raise PhotoError(f"no photos ({', '.join(PHOTO_SUFFIXES)}) in {', '.join(map(str, paths))}")
    return out


def _read_boxes(path, photos):
    table = json.loads(Path(path).read_text())
    if not isinstance(table, dict):
        raise PhotoError(f"{path}: expected a JSON object {{photo: [x, y, w, h]}}")
    boxes = []
    for p in photos:
        box = table.get(str(p), table.get(p.name))
        if box is None:
            raise PhotoError(f"{path}: no box for {p.name}")
        boxes.append(box)
    return boxes


def detections(photos, result):
    """The JSON records of :func:`pose_files` from ``pose_photos``' result."""
    from .pose.skeletons import get_skeleton
    sk = get_skeleton(result["skeleton"])
    out = []
    for p, j, c, size in zip(photos, result["joints"], result["confidence"], result["sizes"]):
        kp = np.concatenate([np.nan_to_num(j, nan=0.0), c[:, None]], -1)
        out.append({"image_id": str(p), "category_id": 1,
                    "keypoints": [round(float(v), 2) for v in kp.ravel()],
                    "score": round(float(np.mean(c)), 4), "skeleton": sk.name,
                    "keypoint_names": list(sk.joints), "image_size": [int(v) for v in size]})
    return out


def draw_pose(photo, joints, confidence, skeleton, min_confidence=0.3):
    """The photo with the pose drawn (hollow joints and thin limbs where unsure)."""
    from .pose.draw import draw_skeleton
    img = read_photo(photo)
    unsure = np.asarray(confidence) < min_confidence
    visible = np.isfinite(np.asarray(joints)).all(-1)
    return draw_skeleton(img, np.nan_to_num(joints), visible, skeleton,
                         thickness=max(1, round(max(img.shape[:2]) / 200)), occluded=unsure)


def pose_files(paths, model_name, out, boxes=None, skeleton=None, draw=None,
               min_confidence=0.3, batch_size=16):
    """Run a zoo entry on photos and write ``out`` (JSON) and, with ``draw``, one overlay PNG a
    photo; returns the records."""
    import cv2

    from . import zoo
    photos = collect_photos(paths)
    model = zoo.load(model_name)
    box_list = _read_boxes(boxes, photos) if boxes else None
    records = []
    try:
        from keras.utils import Progbar
        bar = Progbar(len(photos), unit_name="photo") if len(photos) > batch_size else None
    except ImportError:                                  # pragma: no cover
        bar = None
    for i in range(0, len(photos), batch_size):
        chunk = photos[i:i + batch_size]
        res = model.pose_photos(chunk, None if box_list is None else box_list[i:i + batch_size],
                                skeleton=skeleton)
        records += detections(chunk, res)
        if draw:
            d = Path(draw)
            d.mkdir(parents=True, exist_ok=True)
            for p, j, c in zip(chunk, res["joints"], res["confidence"]):
                img = draw_pose(p, j, c, res["skeleton"], min_confidence)
                cv2.imwrite(str(d / f"{p.stem}_pose.png"), img[..., ::-1])
        if bar is not None:
            bar.add(len(chunk))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    tmp.write_text("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n")
    tmp.replace(out)
    print(f"wrote {len(records)} poses ({records[0]['skeleton']}) to {out}"
          + (f" and overlays to {draw}" if draw else ""))
    return records
