"""``tf.data`` input pipelines for the models.

Every pipeline yields batches as dicts:

* ``image`` ``(B, S, S, 3)`` float32, normalised by ``normalise``: ``"tanh"`` maps [0, 255] to
  [−1, 1] (the decoders' tanh range); ``"standard"`` gives each image zero mean and unit variance
  (``tf.image.per_image_standardization``);
* ``joints`` ``(B, 14, 2)`` Semi-DGPose joints in pixels of the crop, ``visible`` ``(B, 14)``;
* ``pose_vector`` / ``pose_mask`` ``(B, 48)`` and, if ``heatmaps``, ``heatmaps``
  ``(B, 64, 64, 24)`` (:mod:`dgpose_tf.pose.heatmaps`, on a 64×64 grid whatever the image size,
  as the Mapper outputs);
* ``has_label`` ``(B,)`` float32 1/0: the semi-supervised split. Sample ``i`` is labelled iff
  ``⌊(i+1)·f⌋ > ⌊i·f⌋`` for the fraction f (a Beatty sequence): deterministic, spread evenly,
  and any ``n`` consecutive samples hold ``fraction · n`` labels to within one;
* ``index`` ``(B,)`` int64 sample indices.

Synthetic batches are rendered in parallel ``map`` calls (``tf.numpy_function``) and prefetched.

:func:`pose_sequence_dataset` serves the pose-sequence AE-GAN: windows of synthetic 2-D motion
(:mod:`dgpose_tf.data.motion`) with their corrupted, observed versions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..pose import conversion, pose_vector, semi_dgpose_heatmaps

__all__ = ["labelled_mask", "crop_person", "semi_dgpose_targets", "synthetic_dataset",
           "shard_dataset", "records_dataset", "pose_sequence_dataset", "vunet_people",
           "vunet_dataset", "vunet_records_dataset"]

_TO14 = conversion("synthetic33", "semi_dgpose14")


def labelled_mask(indices, fraction):
    """1.0 for the samples of ``indices`` that carry a label at this ``fraction``."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"labelled fraction must be in [0, 1], got {fraction}")
    i = np.asarray(indices, np.float64)
    return (np.floor((i + 1) * fraction) > np.floor(i * fraction)).astype(np.float32)


def crop_person(image, joints, visible, size, margin=1.25):
    """Person-centred square crop resized to ``size``: ``(image, joints)``.

    The square is centred on the box of the visible joints, with side ``margin`` × its longer
    side; pixels outside the image are black. Joints are mapped into the crop (pixel centres at
    integers throughout).
    """
    import cv2

    image = np.asarray(image)
    joints = np.asarray(joints, np.float64)
    vis = np.asarray(visible, bool) & np.isfinite(joints).all(-1)
    if not vis.any():
        raise ValueError("crop_person needs at least one visible joint")
    lo, hi = joints[vis].min(0), joints[vis].max(0)
    side = max(margin * float((hi - lo).max()), 8.0)
    centre = 0.5 * (lo + hi)
    s = size / side
    # x_crop = s (x - centre) + (size - 1) / 2
    A = np.array([[s, 0, (size - 1) / 2 - s * centre[0]], [0, s, (size - 1) / 2 - s * centre[1]]])
    crop = cv2.warpAffine(image, A, (size, size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return crop, (joints @ A[:, :2].T + A[:, 2]).astype(np.float32)


def semi_dgpose_targets(joints14, visible14, size, heatmaps=True):
    """Pose vector, its mask and (optionally) the 24 heatmaps on the 64×64 grid."""
    vec, mask = pose_vector(joints14, visible14, size)
    out = {"pose_vector": vec, "pose_mask": mask.astype(np.float32)}
    if heatmaps:
        out["heatmaps"] = semi_dgpose_heatmaps(np.asarray(joints14) * (64.0 / size), visible14, 64)
    return out


def _synthetic_joints(joints33, visible33, size):
    """14 joints, their visibility and the label mask of synthetic people: labels are every
    joint inside the image, hidden or not (as motion capture labels Human3.6M)."""
    j14, v14 = _TO14(joints33, visible33)
    inside = ((joints33 >= 0) & (joints33 <= size - 1)).all(-1)
    return j14, v14, _TO14(joints33, inside)[1]


_NORMALISATIONS = ("tanh", "standard")


def _target_shapes(size):
    """Per-sample shapes of every field a pipeline can yield."""
    return {"image": (size, size, 3), "joints": (14, 2), "visible": (14,), "pose_vector": (48,),
            "pose_mask": (48,), "heatmaps": (64, 64, 24), "has_label": (), "index": (),
            "mask": (size, size), "joints3d": (33, 3), "limb_depth": (8,),
            "appearance_id": (), "scene_id": ()}


def _check_options(fraction, normalise):
    labelled_mask(0, fraction)                     # raises on a bad fraction
    if normalise not in _NORMALISATIONS:
        raise ValueError(f"normalise must be 'tanh' or 'standard', got {normalise!r}")


def _normalise(image, normalise):
    import tensorflow as tf

    x = tf.cast(image, tf.float32)
    if normalise == "tanh":
        return x / 127.5 - 1.0
    if normalise == "standard":
        return tf.image.per_image_standardization(x)
    raise ValueError(f"normalise must be 'tanh' or 'standard', got {normalise!r}")


def synthetic_dataset(n=None, batch_size=64, size=64, seed=0, start=0, fraction=1.0,
                      normalise="tanh", heatmaps=True, extras=False, stride=None):
    """Batches of freshly rendered synthetic people (``n`` samples, or endless if None).

    The pose targets (``pose_vector``/``pose_mask``, ``heatmaps``) cover every joint inside the
    image, hidden or not — full labels, as motion capture gives Human3.6M; ``visible`` is the
    renderer's flag (in frame and not occluded).

    ``extras`` adds the masks, 3-D joints, limb depth labels and ids of the renderer.
    Batch ``k`` holds people ``start + k·stride …`` (``stride`` defaults to ``batch_size``; a
    larger one leaves room for other workers' slices of each global batch).
    """
    import tensorflow as tf

    from .synthetic import SyntheticPeople

    _check_options(fraction, normalise)
    people = SyntheticPeople(size=size, seed=seed)
    n_batches = None if n is None else -(-n // batch_size)
    stride = int(stride or batch_size)

    def render(b):
        first = start + int(b) * stride
        count = batch_size if n is None else min(batch_size, start + n - first)
        batch = people.batch(first, count)
        j14, v14, in14 = _synthetic_joints(batch["joints2d"], batch["visible"], size)
        idx = np.arange(first, first + count)
        out = {"image": batch["image"], "joints": j14.astype(np.float32), "visible": v14,
               **semi_dgpose_targets(j14, in14, size, heatmaps),
               "has_label": labelled_mask(idx, fraction), "index": idx.astype(np.int64)}
        if extras:
            out.update({k: batch[k] for k in ("mask", "joints3d", "limb_depth", "appearance_id",
                                              "scene_id")})
        return tuple(out[k] for k in keys)

    keys = ["image", "joints", "visible", "pose_vector", "pose_mask"] + \
        (["heatmaps"] if heatmaps else []) + ["has_label", "index"] + \
        (["mask", "joints3d", "limb_depth", "appearance_id", "scene_id"] if extras else [])
    dtypes = {"image": tf.uint8, "visible": tf.bool, "index": tf.int64, "mask": tf.uint8,
              "limb_depth": tf.int8, "appearance_id": tf.int64, "scene_id": tf.int64}
    shapes = _target_shapes(size)

    def to_dict(b):
        values = tf.numpy_function(render, [b], [dtypes.get(k, tf.float32) for k in keys])
        out = {}
        for k, v in zip(keys, values):
            v = tf.ensure_shape(v, (None, *shapes[k]))
            out[k] = _normalise(v, normalise) if k == "image" else v
        return out

    ds = tf.data.Dataset.range(n_batches) if n_batches is not None else tf.data.Dataset.range(
        np.iinfo(np.int64).max)
    return ds.map(to_dict, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(
        tf.data.AUTOTUNE)


def shard_dataset(directory, batch_size=64, fraction=1.0, normalise="tanh", heatmaps=True,
                  shuffle=None, seed=0):
    """Batches from shards written by ``dgpose data synth`` (same dict and labels as above)."""
    import tensorflow as tf

    from .shards import read_meta, read_shards

    size = read_meta(directory)["size"]
    _check_options(fraction, normalise)
    ds = read_shards(directory).enumerate()
    if shuffle:
        ds = ds.shuffle(shuffle, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)

    def targets(idx, joints33, vis33):
        j14, v14, in14 = _synthetic_joints(joints33, vis33, size)
        t = semi_dgpose_targets(j14, in14, size, heatmaps)
        out = [j14.astype(np.float32), v14, t["pose_vector"], t["pose_mask"]]
        if heatmaps:
            out.append(t["heatmaps"])
        return out + [labelled_mask(idx, fraction)]

    def to_dict(idx, rec):
        kinds = [tf.float32, tf.bool, tf.float32, tf.float32] + \
            ([tf.float32] if heatmaps else []) + [tf.float32]
        vals = tf.numpy_function(targets, [idx, rec["joints2d"], rec["visible"]], kinds)
        names = ["joints", "visible", "pose_vector", "pose_mask"] + \
            (["heatmaps"] if heatmaps else []) + ["has_label"]
        dims = _target_shapes(size)
        out = {k: tf.ensure_shape(v, (None, *dims[k])) for k, v in zip(names, vals)}
        out["image"] = _normalise(rec["image"], normalise)
        out["index"] = idx
        return out

    return ds.map(to_dict, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def records_dataset(records, batch_size=64, size=64, fraction=1.0, normalise="tanh",
                    heatmaps=True, margin=1.25, cache=None):
    """Batches from loader records (any joint set with a Semi-DGPose conversion): each image is
    read, cropped around the person (:func:`crop_person`) and resized to ``size``; same dict as
    :func:`synthetic_dataset`. ``cache`` (a file prefix) keeps the decoded crops on disk after
    the first epoch (``tf.data.Dataset.cache``)."""
    import cv2
    import tensorflow as tf

    from .records import to_skeleton

    _check_options(fraction, normalise)
    recs = [to_skeleton(r, "semi_dgpose14") for r in records]
    if not recs:
        raise ValueError("records_dataset needs at least one record")
    paths = [r.image for r in recs]
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} of {len(paths)} images are missing, e.g. "
                                f"{missing[0]} (check data.dir / --data-dir and the image folder)")
    joints = np.stack([np.nan_to_num(r.joints) for r in recs]).astype(np.float32)
    visible = np.stack([r.visible for r in recs])

    def load(i):
        i = int(i)
        img = cv2.imread(paths[i], cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"cannot read image {paths[i]}")
        crop, j = crop_person(img[..., ::-1], joints[i], visible[i], size, margin)
        t = semi_dgpose_targets(j, visible[i], size, heatmaps)
        out = [crop, j, visible[i], t["pose_vector"], t["pose_mask"]]
        return out + ([t["heatmaps"]] if heatmaps else []) + [labelled_mask(i, fraction)]

    names = ["image", "joints", "visible", "pose_vector", "pose_mask"] + \
        (["heatmaps"] if heatmaps else []) + ["has_label"]
    kinds = [tf.uint8, tf.float32, tf.bool, tf.float32, tf.float32] + \
        ([tf.float32] if heatmaps else []) + [tf.float32]
    dims = _target_shapes(size)

    def to_dict(i):
        vals = tf.numpy_function(load, [i], kinds)
        out = {k: tf.ensure_shape(v, dims[k]) for k, v in zip(names, vals)}
        out["index"] = i
        return out

    ds = tf.data.Dataset.range(len(recs)).map(to_dict, num_parallel_calls=tf.data.AUTOTUNE)
    if cache is not None:
        ds = ds.cache(str(cache))
    ds = ds.batch(batch_size).map(lambda b: {**b, "image": _normalise(b["image"], normalise)})
    return ds.prefetch(tf.data.AUTOTUNE)


def pose_sequence_dataset(n_sequences=None, batch_size=64, seed=0, skeleton="mpi_inf_3dhp28",
                          length=24, mirrored=True, corruption=None, shuffle=1024):
    """Batches of ``{"poses" (B, length, J, 2) clean, "observed_poses" (NaN → 0),
    "observed" (B, length, J) float mask}`` from half-overlapping windows of synthetic motion.

    ``corruption`` holds keyword arguments of :func:`dgpose_tf.data.motion.corrupt` (e.g.
    ``{"subset": "alphapose12", "jitter": 0.01}``); without it every joint is observed.
    Sequence ``i`` and its corruption are fixed by ``(seed, i)``; ``shuffle`` mixes windows of
    neighbouring sequences (0 or None: keep order).
    """
    import tensorflow as tf

    from ..pose import get_skeleton
    from .motion import SyntheticMotion, corrupt

    motion = SyntheticMotion(seed=seed, skeleton=skeleton, length=length)
    n_joints = get_skeleton(skeleton).num_joints

    def windows_of(i):
        w = motion.windows(int(i), mirrored).astype(np.float32)
        if corruption:
            c, obs = corrupt(w, np.random.default_rng([seed, int(i), 0xC0]), skeleton, **corruption)
        else:
            c, obs = w, np.ones(w.shape[:-1], bool)
        return w, np.nan_to_num(c).astype(np.float32), obs.astype(np.float32)

    def to_windows(i):
        w, c, obs = tf.numpy_function(windows_of, [i], [tf.float32] * 3)
        shape = (None, length, n_joints)
        return tf.data.Dataset.from_tensor_slices({
            "poses": tf.ensure_shape(w, shape + (2,)),
            "observed_poses": tf.ensure_shape(c, shape + (2,)),
            "observed": tf.ensure_shape(obs, shape)})

    ids = tf.data.Dataset.range(n_sequences if n_sequences is not None else np.iinfo(np.int64).max)
    ds = ids.interleave(to_windows, cycle_length=4, num_parallel_calls=tf.data.AUTOTUNE,
                        deterministic=True)
    if shuffle:
        ds = ds.shuffle(shuffle, seed=seed)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def vunet_people(batch, size, rule="occlusion", margin=0.05, thickness=None, background="grey"):
    """VUNet inputs from a :meth:`SyntheticPeople.batch` dict (numpy): ``image`` uint8 (with the
    background replaced by mid-grey when ``background="grey"`` — the reference's masked images,
    whose background is 0 in [−1, 1] — or kept with ``"scene"``), the 13 stick ``joints``
    (pixels) and ``valid`` flags (every joint of a synthetic person is known, hidden or not), and
    the 8 limb depth ``labels`` by ``rule``: "occlusion" (the thesis's, :func:`occlusion_labels`,
    stroke ``thickness`` px, default size/16) or "depth" (the renderer's depth-only rule)."""
    from ..pose.three_layer import occlusion_labels, stick_joints

    if rule not in ("occlusion", "depth"):
        raise ValueError(f"rule must be 'occlusion' or 'depth', got {rule!r}")
    if background not in ("grey", "scene"):
        raise ValueError(f"background must be 'grey' or 'scene', got {background!r}")
    j13, valid = stick_joints(batch["joints2d"], "synthetic33")
    z13, _ = stick_joints(batch["joints3d"][..., 2:], "synthetic33")
    thickness = size / 16 if thickness is None else thickness
    if rule == "occlusion":
        labels = np.stack([occlusion_labels(j13[i], z13[i, :, 0], size, thickness, margin)
                           for i in range(len(j13))])
    else:
        labels = batch["limb_depth"].astype(np.int8)
    image = batch["image"]
    if background == "grey":
        m = batch["mask"][..., None].astype(np.float32)
        image = np.rint(image * m + 127.5 * (1 - m)).astype(np.uint8)
    return {"image": image, "joints": j13.astype(np.float32), "valid": valid, "labels": labels,
            "mask": batch["mask"], "appearance_id": batch["appearance_id"]}


# a flipped lower limb carries its hand or foot (the renderer draws them as parts of their own)
FLIP_WITH = {"left_lower_arm": "left_hand", "right_lower_arm": "right_hand",
             "left_lower_leg": "left_foot", "right_lower_leg": "right_foot"}
#: summed absolute RGB difference (0–255 scale) above which two renders disagree at a pixel
DISAGREE = 30


def flip_occlusion(param, sample, limb, label, size, margin=0.05, thickness=None):
    """The counterfactual of one person: limb ``limb`` (an index of ``LIMBS_25D``, labelled
    ``label`` = ±1 by the occlusion rule) drawn 1 m farther (+1 → behind) or nearer (−1 → in
    front) with its hand or foot — the same 2-D joints and shading, the other occlusion order.

    ``param``: the person's ``(pose, appearance, scene, camera)``; ``sample``: its render as a
    one-person :func:`~dgpose_tf.data.synthetic.stack` dict. Returns ``(render, labels)``: the
    flipped render (a one-person stack dict) and its 8 limb labels by the occlusion rule with the
    same depth offset (``thickness`` px, default size/16; ``margin`` metres)."""
    from ..pose.three_layer import LIMBS_25D, occlusion_labels, stick_joints
    from .synthetic import PARTS, render_batch, stack

    if label not in (-1, 1):
        raise ValueError(f"only a limb labelled ±1 has an occlusion order to flip, got {label}")
    pose, app, scene, cam = param
    delta = 1.0 if label > 0 else -1.0
    offsets = np.zeros((1, len(PARTS)))
    name = LIMBS_25D[limb][0]
    offsets[0, PARTS.index(name)] = delta
    if name in FLIP_WITH:
        offsets[0, PARTS.index(FLIP_WITH[name])] = delta
    flipped = stack(render_batch(np.asarray(pose)[None], [app], [scene], [cam], size,
                                 depth_offsets=offsets))
    uv13, valid = stick_joints(sample["joints2d"][0], "synthetic33")
    z13, _ = stick_joints(sample["joints3d"][0][:, 2:], "synthetic33")
    zoff = np.zeros(9)
    zoff[limb] = delta
    thickness = size / 16 if thickness is None else thickness
    return flipped, occlusion_labels(uv13, z13[:, 0], size, thickness, margin, valid, zoff)


def vunet_dataset(n=None, batch_size=8, size=64, seed=0, start=0, rule="occlusion",
                  margin=0.05, background="grey", stride=None):
    """Batches of synthetic people for the VUNet family (see :func:`vunet_people`): ``image``
    float32 in [−1, 1], ``joints`` (B, 13, 2), ``valid`` (B, 13), ``labels`` (B, 8) int32,
    ``mask`` (B, S, S) float32, ``appearance_id``. Endless when ``n`` is None. Batch ``k``
    starts at person ``start + k·stride`` (``stride``: ``batch_size`` unless other workers
    render the rest of each global batch)."""
    import tensorflow as tf

    from .synthetic import SyntheticPeople

    people = SyntheticPeople(size=size, seed=seed)
    n_batches = None if n is None else -(-n // batch_size)
    keys = ("image", "joints", "valid", "labels", "mask", "appearance_id")
    dtypes = (tf.uint8, tf.float32, tf.bool, tf.int8, tf.uint8, tf.int64)
    stride = int(stride or batch_size)

    def render(b):
        first = start + int(b) * stride
        count = batch_size if n is None else min(batch_size, start + n - first)
        out = vunet_people(people.batch(first, count), size, rule, margin, None, background)
        return tuple(out[k] for k in keys)

    shapes = {"image": (size, size, 3), "joints": (13, 2), "valid": (13,), "labels": (8,),
              "mask": (size, size), "appearance_id": ()}

    def to_dict(b):
        vals = tf.numpy_function(render, [b], list(dtypes))
        out = {k: tf.ensure_shape(v, (None, *shapes[k])) for k, v in zip(keys, vals)}
        out["image"] = tf.cast(out["image"], tf.float32) / 127.5 - 1.0
        out["labels"] = tf.cast(out["labels"], tf.int32)
        out["mask"] = tf.cast(out["mask"], tf.float32)
        return out

    ds = tf.data.Dataset.range(n_batches if n_batches is not None else np.iinfo(np.int64).max)
    return ds.map(to_dict, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(
        tf.data.AUTOTUNE)


def vunet_records_dataset(records, labels, batch_size=8, size=256, margin=1.25, shuffle=True,
                          seed=0):
    """VUNet batches from loader records (any joint set with the 12 limb joints; the head joint
    is used when the set has one) and their ``(N, 8)`` limb ``labels``
    (:func:`dgpose_tf.data.depth_labels.labels_for`): each image read, cropped around the person
    (:func:`crop_person`) to ``size``; the same dict as :func:`vunet_dataset` (``mask`` all ones:
    real images carry no person mask). Repeats endlessly, reshuffled each pass."""
    import cv2
    import tensorflow as tf

    from ..pose.three_layer import stick_joints

    if not records:
        raise ValueError("vunet_records_dataset needs at least one record")
    labels = np.asarray(labels, np.int8)
    if labels.shape != (len(records), 8):
        raise ValueError(f"labels must be ({len(records)}, 8), got {labels.shape}")

    def load(i):
        r = records[int(i)]
        img = cv2.imread(r.image, cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"cannot read image {r.image}")
        joints = np.nan_to_num(np.asarray(r.joints, np.float32))
        crop, j = crop_person(img[..., ::-1], joints, r.visible, size, margin)
        j13, v13 = stick_joints(j, r.skeleton, r.visible)
        return crop, j13, v13, labels[int(i)]

    def to_dict(i):
        img, j, v, lab = tf.numpy_function(load, [i], [tf.uint8, tf.float32, tf.bool, tf.int8])
        return {"image": tf.cast(tf.ensure_shape(img, (size, size, 3)), tf.float32) / 127.5 - 1,
                "joints": tf.ensure_shape(j, (13, 2)), "valid": tf.ensure_shape(v, (13,)),
                "labels": tf.cast(tf.ensure_shape(lab, (8,)), tf.int32),
                "mask": tf.ones((size, size)), "appearance_id": tf.cast(i, tf.int64)}

    ds = tf.data.Dataset.range(len(records)).repeat()
    if shuffle:
        ds = ds.shuffle(min(len(records), 20_000), seed=seed)
    return ds.map(to_dict, num_parallel_calls=tf.data.AUTOTUNE).batch(
        batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
