"""TFRecord shards of synthetic people (``dgpose data synth``) and contact sheets (``data show``).

A shard directory holds ``meta.json`` and ``shard-00000-of-000NN.tfrecord`` files. Each shard is
written under a temporary name and renamed when complete, and ``meta.json`` is written last, so an
interrupted run never leaves a directory that reads as finished.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

__all__ = ["FIELDS", "write_synthetic", "read_shards", "contact_sheet"]

#: record field -> (dtype, shape given the crop size S)
FIELDS = {
    "image": (np.uint8, lambda s: (s, s, 3)),
    "mask": (np.uint8, lambda s: (s, s)),
    "joints2d": (np.float32, lambda s: (33, 2)),
    "visible": (np.uint8, lambda s: (33,)),
    "joints3d": (np.float32, lambda s: (33, 3)),
    "limb_depth": (np.int8, lambda s: (8,)),
    "intrinsics": (np.float32, lambda s: (4,)),
}
_META = "meta.json"


def write_synthetic(out, n, size=64, seed=0, shard_size=2000, start=0, progress=True):
    """Render samples ``start … start+n-1`` of ``SyntheticPeople(size, seed)`` into shards."""
    import tensorflow as tf

    from .synthetic import SyntheticPeople

    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if (out / _META).exists():
        raise FileExistsError(f"{out} already holds a data set ({_META}); choose another --out")
    ds = SyntheticPeople(size=size, seed=seed)
    n_shards = -(-n // shard_size)
    bar = _progress(n, "rendering") if progress else None
    names = []
    for k in range(n_shards):
        name = f"shard-{k:05d}-of-{n_shards:05d}.tfrecord"
        tmp = out / (name + ".partial")
        first = start + k * shard_size
        count = min(shard_size, start + n - first)
        try:
            with tf.io.TFRecordWriter(str(tmp)) as writer:
                for b0 in range(first, first + count, 250):
                    batch = ds.batch(b0, min(250, first + count - b0))
                    for i in range(len(batch["image"])):
                        writer.write(_example(batch, i))
                    if bar:
                        bar.add(len(batch["image"]))
        except (OSError, tf.errors.OpError) as exc:     # disk full, folder gone, …
            tmp.unlink(missing_ok=True)
            done = f"; the {k} finished shard(s) stay, but the folder has no {_META} until a " \
                   "run completes" if k else ""
            raise OSError(f"writing {out / name} failed ({getattr(exc, 'strerror', None) or exc})"
                          f"{done}. Free space or choose another --out, then run again") from None
        os.replace(tmp, out / name)
        names.append(name)
    meta = {"kind": "synthetic_people", "size": size, "seed": seed, "start": start, "n": n,
            "skeleton": "synthetic33", "shards": names,
            "fields": {k: [np.dtype(d).name, list(f(size))] for k, (d, f) in FIELDS.items()}}
    tmp = out / (_META + ".partial")
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, out / _META)
    print(f"wrote {n} samples in {n_shards} shard(s) to {out}")
    return out


def _progress(total, label):
    from keras.utils import Progbar
    return Progbar(total, unit_name=label)


def _example(batch, i):
    import tensorflow as tf

    feat = {k: tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[np.ascontiguousarray(batch[k][i]).astype(d).tobytes()]))
        for k, (d, _) in FIELDS.items()}
    for k in ("appearance_id", "scene_id"):
        feat[k] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(batch[k][i])]))
    return tf.train.Example(features=tf.train.Features(feature=feat)).SerializeToString()


def read_meta(directory):
    path = Path(directory) / _META
    if not path.exists():
        partial = list(Path(directory).glob("*.partial")) if Path(directory).exists() else []
        hint = " (an interrupted write left .partial files)" if partial else ""
        raise FileNotFoundError(f"{directory} is not a finished shard directory: no {_META}{hint}")
    return json.loads(path.read_text())


def read_shards(directory):
    """A ``tf.data.Dataset`` of dicts of tensors (the :data:`FIELDS` plus the two ids)."""
    import tensorflow as tf

    meta = read_meta(directory)
    size = meta["size"]
    files = [str(Path(directory) / name) for name in meta["shards"]]
    missing = [f for f in files if not Path(f).exists()]
    if missing:
        raise FileNotFoundError(f"shard files listed in {_META} are missing: {missing}")
    spec = {k: tf.io.FixedLenFeature([], tf.string) for k in FIELDS}
    spec.update({k: tf.io.FixedLenFeature([], tf.int64) for k in ("appearance_id", "scene_id")})
    tf_dtypes = {np.uint8: tf.uint8, np.float32: tf.float32, np.int8: tf.int8}

    def parse(record):
        ex = tf.io.parse_single_example(record, spec)
        out = {k: tf.reshape(tf.io.decode_raw(ex[k], tf_dtypes[d]), f(size))
               for k, (d, f) in FIELDS.items()}
        out["visible"] = tf.cast(out["visible"], tf.bool)
        out["appearance_id"], out["scene_id"] = ex["appearance_id"], ex["scene_id"]
        return out

    return tf.data.TFRecordDataset(files).map(parse, num_parallel_calls=tf.data.AUTOTUNE)


def contact_sheet(directory, out, n=16, cols=4, scale=4):
    """PNG of ``n`` samples: image with the 14-joint skeleton (limbs coloured by side, occluded
    joints hollow with thin limbs, out-of-frame joints left out), next to the image with its mask
    tinted."""
    import cv2

    from ..pose import conversion
    from ..pose.draw import draw_skeleton, image_grid

    to14 = conversion("synthetic33", "semi_dgpose14")
    tiles = []
    for rec in read_shards(directory).take(n).as_numpy_iterator():
        s = rec["image"].shape[0] * scale
        big = cv2.resize(rec["image"], (s, s), interpolation=cv2.INTER_NEAREST)
        size = rec["image"].shape[0]
        inside = ((rec["joints2d"] >= -0.5) & (rec["joints2d"] < size - 0.5)).all(-1)
        joints, shown = to14(rec["joints2d"], inside)
        _, seen = to14(rec["joints2d"], rec["visible"])
        tiles.append(draw_skeleton(big, joints * scale + (scale - 1) / 2, shown, "semi_dgpose14",
                                   thickness=2, occluded=shown & ~seen))
        mask = cv2.resize(rec["mask"], (s, s), interpolation=cv2.INTER_NEAREST).astype(bool)
        tint = big.copy()
        tint[mask] = (0.5 * tint[mask] + 0.5 * np.array([255, 255, 0])).astype(np.uint8)
        tiles.append(tint)
    if not tiles:
        raise ValueError(f"{directory} holds no samples")
    sheet = image_grid(np.stack(tiles), cols=2 * cols)
    cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"contact sheet of {len(tiles) // 2} samples: {out}")
    return out
