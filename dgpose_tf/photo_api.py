"""Photo in → joints out, for every pose-capable zoo entry (``ZooModel.pose_photos``).

Each photo (a file path or an ``H × W × 3`` uint8 array of any size; grey and RGBA converted) is
letterboxed into the entry's square input — the whole photo, or the person's box ``(x, y, w, h)``
when given — run through the entry's ``estimate_pose`` signature, and the joints are mapped back
to the photo's pixels (x right, y down). Every joint is predicted; ``confidence`` in [0, 1] says
how sure the entry is of each:

* heatmap entries (MirrorNet): the probability mass within one heatmap cell of the peak (softmax
  recognizers) or the peak's height (Gaussian ones), clipped to [0, 1];
* regression entries (Semi-DGPose): agreement with the same photo flipped,
  ``exp(−d² / (2 (0.1·s)²))`` with ``d`` the distance between the two answers and ``s`` the
  letterbox's size — an answer that moves when the photo is mirrored is not one to trust.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .data.photos import PhotoError, letterbox, read_photo

__all__ = ["pose_photos", "pose_capable", "PhotoError", "KerasPoseModel"]


class KerasPoseModel:
    """A Keras pose model (a training run, or ``zoo.load(..., format="keras")``) seen as a zoo
    entry is: ``card`` (name, input size, skeleton, signatures) and ``estimate_pose`` returning
    a dict, so :func:`pose_photos` treats runs and shipped entries alike."""

    def __init__(self, model, name="run"):
        family = type(model).__name__
        if not hasattr(model, "estimate_pose"):
            raise PhotoError(f"{family} does not estimate pose")
        cfg = getattr(model, "cfg", {})
        size = int(cfg.get("image_size", 64))
        skeleton = "mpii16" if family == "MirrorNet" else "semi_dgpose14"
        self.model = model
        self.card = {"name": name, "input": {"size": [size, size]},
                     "skeleton": {"name": skeleton}, "signatures": {"estimate_pose": {}}}

    @classmethod
    def from_run(cls, path):
        from .fit import load_run
        model, config = load_run(path)
        return cls(model, config.get("name", Path(path).name))

    def estimate_pose(self, images):
        out = self.model.estimate_pose(images)
        if isinstance(out, tuple):                       # MirrorNet: joints, maxima, heatmaps
            return {"joints": np.asarray(out[0]), "maxvals": np.asarray(out[1])}
        return {"joints": np.asarray(out)}

    def pose_photos(self, photos, boxes=None, skeleton=None):
        return pose_photos(self, photos, boxes=boxes, skeleton=skeleton)


def pose_capable(card):
    """Whether a card's entry estimates pose from images (has ``estimate_pose`` and a size)."""
    return ("estimate_pose" in card.get("signatures", {})
            and bool(card.get("input", {}).get("size")))


def _as_list(photos):
    if isinstance(photos, (str, Path)):
        return [photos]
    if isinstance(photos, np.ndarray):
        if photos.ndim == 4:
            return list(photos)
        if photos.ndim in (2, 3):
            return [photos]
        raise PhotoError(f"photos array must be (H, W[, C]) or (N, H, W, C), got {photos.shape}")
    photos = list(photos)
    if not photos:
        raise PhotoError("no photos given")
    return photos


def _boxes(boxes, n):
    if boxes is None:
        return [None] * n
    arr = np.asarray(boxes, np.float64)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.shape != (n, 4):
        raise PhotoError(f"boxes must be (N, 4) = x, y, w, h per photo ({n} photos), got "
                         f"shape {arr.shape}")
    return list(arr)


def pose_photos(model, photos, boxes=None, skeleton=None, batch_size=16):
    """``{"joints": (N, J, 2) photo pixels, "confidence": (N, J), "skeleton": name,
    "sizes": (N, 2) width and height}`` of a zoo model (see the module docstring)."""
    from .pose.convert import convert
    from .pose.skeletons import get_skeleton

    card = model.card
    if not pose_capable(card):
        raise PhotoError(f"{card['name']} does not estimate pose from photos (no estimate_pose "
                         "signature); pose entries are listed by `dgpose zoo list`")
    size = int(card["input"]["size"][0])
    native = card["skeleton"]["name"]
    photos = _as_list(photos)
    boxes = _boxes(boxes, len(photos))
    squares, maps, sizes = [], [], []
    for i, (p, b) in enumerate(zip(photos, boxes)):
        arr = read_photo(p)
        try:
            sq, lb = letterbox(arr, size, b)
        except PhotoError as e:
            raise PhotoError(f"photo {i} ({p if isinstance(p, (str, Path)) else 'array'}): {e}")
        squares.append(sq)
        maps.append(lb)
        sizes.append((arr.shape[1], arr.shape[0]))
    images = np.stack(squares).astype(np.float32) / 127.5 - 1.0
    joints, conf = [], []
    flip = get_skeleton(native).flip_indices
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        out = model.estimate_pose(x)
        j = np.asarray(out["joints"], np.float64)
        if "maxvals" in out:
            c = np.clip(np.asarray(out["maxvals"], np.float64), 0.0, 1.0)
        else:
            jf = np.asarray(model.estimate_pose(x[:, :, ::-1].copy())["joints"], np.float64)
            jf = jf[:, flip]
            jf[..., 0] = size - 1.0 - jf[..., 0]
            d2 = ((j - jf) ** 2).sum(-1)
            c = np.exp(-d2 / (2.0 * (0.1 * size) ** 2))
        joints.append(j)
        conf.append(c)
    joints, conf = np.concatenate(joints), np.concatenate(conf)
    joints = np.stack([lb.to_photo(j) for lb, j in zip(maps, joints)])
    name = native
    if skeleton is not None and get_skeleton(skeleton).name != get_skeleton(native).name:
        name = get_skeleton(skeleton).name
        joints = convert(joints, native, name)[0]
        cj = convert(np.repeat(conf[..., None], 2, -1), native, name)[0][..., 0]
        conf = np.where(np.isfinite(cj), cj, 0.0)
    return {"joints": joints.astype(np.float32), "confidence": conf.astype(np.float32),
            "skeleton": name, "sizes": np.asarray(sizes, np.int32)}
