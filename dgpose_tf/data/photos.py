"""Photos of people as users give them: reading, letterboxing into a model's square input and
back, the fixed LSPET split, and the training augmentation of the field.

Coordinates are image pixels, x right, y down, with pixel centres at integers (the convention of
every reader in :mod:`dgpose_tf.data`). A *letterbox* maps a box of the photo (the whole photo by
default) onto a ``size × size`` square: the box's longer side fills the square, the shorter one is
centred with grey padding, so ``square = (photo − origin) · scale + pad``.

LSPET (Johnson & Everingham 2011, ``joints.mat`` 14 × 3 × 10000): the split is fixed by image
number — train ``im00001–im08500``, validation ``im08501–im09000``, test
``im09001–im10000``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["PhotoError", "read_photo", "Letterbox", "letterbox", "LSPET_SPLITS", "lspet_split",
           "load_lspet", "augment"]

#: first and last image number (1-based, inclusive) of each LSPET split
LSPET_SPLITS = {"train": (1, 8500), "validation": (8501, 9000), "test": (9001, 10000)}
PAD_VALUE = 128


class PhotoError(ValueError):
    """A photo or box that cannot be used, with the reason in its message."""


def read_photo(photo) -> np.ndarray:
    """A file path or an array → ``(H, W, 3)`` uint8 RGB. Grey (H, W) / (H, W, 1) and RGBA
    photos are converted; float arrays must be in [0, 1] or [0, 255]."""
    if isinstance(photo, (str, Path)):
        import cv2
        path = Path(photo)
        if not path.is_file():
            raise PhotoError(f"photo not found: {path}")
        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise PhotoError(f"{path}: not an image file OpenCV can read")
        if arr.ndim == 3 and arr.shape[2] == 4:
            arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
        elif arr.ndim == 3:
            arr = arr[..., ::-1]
        if arr.dtype == np.uint16:
            arr = (arr / 257.0).round().astype(np.uint8)
        where = str(path)
    else:
        arr, where = np.asarray(photo), "photo array"
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise PhotoError(f"{where}: expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got "
                         f"shape {arr.shape}")
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise PhotoError(f"{where}: empty image ({arr.shape[0]}×{arr.shape[1]} pixels)")
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.number):
            raise PhotoError(f"{where}: dtype {arr.dtype} is not a pixel type")
        f = arr.astype(np.float64)
        if not np.isfinite(f).all():
            raise PhotoError(f"{where}: contains NaN or inf")
        if f.min() < 0 or f.max() > 255:
            raise PhotoError(f"{where}: values in [{f.min():.3g}, {f.max():.3g}]; expected [0, 1] "
                             "or [0, 255]")
        arr = np.round(f * 255.0 if f.max() <= 1.0 else f).astype(np.uint8)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:                         # alpha over the padding grey
        a = arr[..., 3:].astype(np.float32) / 255.0
        arr = (arr[..., :3] * a + PAD_VALUE * (1.0 - a)).round().astype(np.uint8)
    return np.ascontiguousarray(arr)


@dataclass(frozen=True)
class Letterbox:
    """``square = (photo − origin) · scale + pad``."""

    origin: tuple[float, float]
    scale: float
    pad: tuple[float, float]
    size: int

    def to_square(self, joints):
        j = np.asarray(joints, np.float64)
        return (j - np.asarray(self.origin)) * self.scale + np.asarray(self.pad)

    def to_photo(self, joints):
        j = np.asarray(joints, np.float64)
        return (j - np.asarray(self.pad)) / self.scale + np.asarray(self.origin)


def letterbox(photo: np.ndarray, size: int, box=None) -> tuple[np.ndarray, Letterbox]:
    """The box ``(x, y, w, h)`` of the photo (default: all of it) scaled into a ``size²`` uint8
    square, grey-padded; a box may reach past the photo (padded too) but must overlap it."""
    import cv2
    h, w = photo.shape[:2]
    if box is None:
        x0, y0, bw, bh = 0.0, 0.0, float(w), float(h)
    else:
        x0, y0, bw, bh = (float(v) for v in box)
        if not np.isfinite([x0, y0, bw, bh]).all():
            raise PhotoError(f"box {tuple(box)} contains NaN or inf")
        if bw <= 0 or bh <= 0:
            raise PhotoError(f"box ({x0:g}, {y0:g}, {bw:g}, {bh:g}): width and height must be "
                             "positive")
        if x0 >= w or y0 >= h or x0 + bw <= 0 or y0 + bh <= 0:
            raise PhotoError(f"box ({x0:g}, {y0:g}, {bw:g}, {bh:g}) lies outside the {w}×{h} "
                             "photo")
    # the square around the box, in whole photo pixels (grey where it leaves the photo), then
    # resized: area averaging when it shrinks (a warp would sample and alias small limbs)
    side = max(int(round(max(bw, bh))), 1)
    ox = int(round(x0 + (bw - side) / 2.0))
    oy = int(round(y0 + (bh - side) / 2.0))
    crop = np.full((side, side, 3), PAD_VALUE, np.uint8)
    ax, ay, bx, by = max(ox, 0), max(oy, 0), min(ox + side, w), min(oy + side, h)
    if bx > ax and by > ay:
        crop[ay - oy:by - oy, ax - ox:bx - ox] = photo[ay:by, ax:bx]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    out = cv2.resize(crop, (size, size), interpolation=interp) if side != size else crop
    scale = size / side
    # cv2.resize maps pixel centres as square = (crop + ½)·scale − ½
    lb = Letterbox(origin=(float(ox), float(oy)), scale=scale,
                   pad=(0.5 * scale - 0.5, 0.5 * scale - 0.5), size=size)
    return out, lb


def lspet_split(records, split):
    """The records of one LSPET split (``train`` / ``validation`` / ``test``), by image number."""
    if split not in LSPET_SPLITS:
        raise ValueError(f"split must be one of {sorted(LSPET_SPLITS)}, got {split!r}")
    lo, hi = LSPET_SPLITS[split]
    out = [r for r in records if lo <= int(Path(r.image).stem[2:]) <= hi]
    return out


def load_lspet(data_dir, split, size, progress=True, limit=None):
    """One LSPET split letterboxed into ``size²``: ``{"image": (N, size, size, 3) uint8,
    "joints": (N, 14, 2) square pixels, "visible": (N, 14), "index": (N,) image numbers,
    "scale", "pad"}`` (each photo's :class:`Letterbox`, to map back); ``limit``: the split's first
    photos only (quick runs, tests)."""
    from .lsp import load_lsp
    data_dir = Path(data_dir)
    records = lspet_split(load_lsp(data_dir / "joints.mat", data_dir / "images"), split)
    if not records:
        raise FileNotFoundError(f"{data_dir}: no LSPET {split} records")
    if records[0].extra.get("variant") != "lsp_extended":
        raise ValueError(f"{data_dir}/joints.mat is LSP (3×14×N), not LSP-extended (14×3×N)")
    records = records[:limit] if limit else records
    out = {k: [] for k in ("image", "joints", "visible", "index", "scale", "pad")}
    bar = None
    if progress:
        from keras.utils import Progbar
        print(f"letterboxing LSPET {split} ({len(records)} photos) to {size}²")
        bar = Progbar(len(records), unit_name="photo")
    for r in records:
        sq, lb = letterbox(read_photo(r.image), size)
        out["image"].append(sq)
        out["joints"].append(lb.to_square(r.joints))
        out["visible"].append(np.asarray(r.visible, bool))
        out["index"].append(int(Path(r.image).stem[2:]))
        out["scale"].append(lb.scale)
        out["pad"].append(lb.pad)
        if bar is not None:
            bar.add(1)
    return {k: np.asarray(v) for k, v in out.items()}


def augment(image, joints, visible, out_size, flip_indices, *, scale=(0.75, 1.25), rotate=30.0,
            shift=0.08, colour=0.2, flip=True):
    """The field's training augmentation in the TF graph, one example: a random similarity
    (scale, rotation about the centre, shift) from the stored square onto ``out_size²``, a
    horizontal flip that swaps left and right joints, and brightness/contrast/saturation jitter.
    ``image`` uint8 ``(S, S, 3)`` → float32 in [−1, 1]; joints that leave the output become
    invisible."""
    import math

    import tensorflow as tf
    s_in = tf.cast(tf.shape(image)[0], tf.float32)
    k = tf.random.uniform([], *scale) * out_size / s_in
    a = tf.random.uniform([], -rotate, rotate) * math.pi / 180.0
    d = tf.random.uniform([2], -shift, shift) * out_size
    c_in, c_out = (s_in - 1.0) / 2.0, (out_size - 1.0) / 2.0
    cos, sin = tf.cos(a) * k, tf.sin(a) * k
    # out = R·(in − c) + c' + d
    rot = tf.stack([tf.stack([cos, -sin]), tf.stack([sin, cos])])
    t = tf.stack([c_out, c_out]) + d - tf.linalg.matvec(rot, tf.stack([c_in, c_in]))
    do_flip = tf.random.uniform([]) < 0.5 if flip else tf.constant(False)
    fx = tf.where(do_flip, -1.0, 1.0)
    # flip after the similarity: x' = (out − 1) − x
    rot = tf.stack([rot[0] * fx, rot[1]])
    t = tf.stack([tf.where(do_flip, out_size - 1.0 - t[0], t[0]), t[1]])
    j = tf.linalg.matvec(rot[None], tf.cast(joints, tf.float32)) + t[None]
    perm = tf.where(do_flip, tf.constant(flip_indices, tf.int32),
                    tf.range(len(flip_indices), dtype=tf.int32))
    j = tf.gather(j, perm)
    vis = tf.gather(tf.cast(visible, tf.float32), perm)
    inside = tf.reduce_all((j >= 0.0) & (j <= out_size - 1.0), -1)
    vis = vis * tf.cast(inside, tf.float32)
    # ImageProjectiveTransform maps output → input: invert [rot | t]
    inv = tf.linalg.inv(rot)
    ti = -tf.linalg.matvec(inv, t)
    transform = tf.stack([inv[0, 0], inv[0, 1], ti[0], inv[1, 0], inv[1, 1], ti[1], 0.0, 0.0])
    img = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(image, tf.float32)[None], transforms=transform[None],
        output_shape=tf.constant([out_size, out_size]), interpolation="BILINEAR",
        fill_mode="CONSTANT", fill_value=float(PAD_VALUE))[0]
    img = img / 255.0
    if colour:
        img = tf.image.random_brightness(img, colour)
        img = tf.image.random_contrast(img, 1.0 - colour, 1.0 + colour)
        img = tf.image.random_saturation(img, 1.0 - colour, 1.0 + colour)
    img = tf.clip_by_value(img, 0.0, 1.0) * 2.0 - 1.0
    return img, j, vis
