"""MirrorNet's data and curriculum (§4, §5.2) as one driver.

* :func:`people` renders a fixed, finite pool of synthetic people with the 16 MPII joints (built
  from LSP-14 by the paper's rule, :func:`.mirrornet.to_mirrornet16`), their person masks and
  what the plausibility figures need (3-D joints, intrinsics).
* :func:`label_split` marks a fraction of a pool as annotated (a seeded permutation).
* :class:`Curriculum` runs, for one label fraction and seed:

  - step 1: each component pre-trained alone on the annotated images — the recognizer
    (``pretrain`` steps), the pose-conditioned image VAE and the pose VAE; the mask estimator is
    trained once on a separate set of people (the paper trains it on another dataset, UP-S1h)
    and passed in;
  - ``baseline``: the recognizer continued alone for ``tail`` steps;
  - ``supervised`` (either reading, optionally without the pose VAE or the image term): all
    jointly, supervised, for ``tail`` steps (the mask estimator frozen); the reflective run keeps
    its checkpoint at ``tail/2`` (§5.2 step 2a);
  - ``semi``: from that checkpoint, ``tail/2`` semi-supervised steps (§5.2 step 3).

  Every arm gives the recognizer ``pretrain + tail`` updates — the paper's "200 epochs in total"
  rule — and is scored, as the paper does over its last 10 epochs, by the mean over its last
  :data:`N_LAST` evaluations (``tail/20`` steps apart).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras
import numpy as np

__all__ = ["POOL_SEED", "MASK_SEED", "people", "label_split", "training_dataset", "Curriculum",
           "train_mask_estimator", "ARMS"]

POOL_SEED = 0
MASK_SEED = 31
N_LAST = 3
ARMS = {
    "baseline": dict(),
    "literal": dict(labelled_objective="literal"),
    "reflective": dict(labelled_objective="reflective"),
    "no_pose_vae": dict(labelled_objective="reflective", use_pose_prior=False),
    "no_image_term": dict(labelled_objective="reflective", use_image_term=False),
    "semi": dict(labelled_objective="reflective"),
    # not the paper's: generator variances at the residuals measured after step 1 (image MSE
    # ≈ 0.08 on [−1, 1] pixels, heatmap MSE ≈ 0.01) — the calibrated decoders of the VAE field
    # (Rybkin et al. 2021) — so the image and pose terms weigh on the recognizer as much as their
    # fit warrants; its image and pose VAEs are pre-trained again at these variances
    "reflective_calibrated": dict(labelled_objective="reflective", image_variance=0.1,
                                  pose_variance=0.01),
}


def people(n, seed=POOL_SEED, size=64, start=0):
    """``n`` rendered people as numpy arrays: ``image`` uint8, ``mask`` (N, S, S, 1) uint8,
    ``joints`` (N, 16, 2) pixels, ``labelled`` (N, 16) — in the crop (what an annotator marks),
    ``visible`` (N, 16) — labelled and not occluded, ``joints3d`` (N, 16, 3) camera metres,
    ``intrinsics`` (N, 4)."""
    from ..data.synthetic import SyntheticPeople
    from .mirrornet import to_mirrornet16

    crowd = SyntheticPeople(size, seed)
    parts = [crowd.batch(i, min(500, start + n - i)) for i in range(start, start + n, 500)]
    b = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    joints, _ = to_mirrornet16(b["joints2d"], "synthetic33")
    inside = np.all((joints > -0.5) & (joints < size - 0.5), -1)
    _, occl = to_mirrornet16(b["joints2d"], "synthetic33", b["visible"])
    j3d, _ = to_mirrornet16(b["joints3d"], "synthetic33")
    return {"image": b["image"], "mask": b["mask"][..., None],
            "joints": joints.astype(np.float32), "labelled": inside,
            "visible": inside & occl, "joints3d": j3d.astype(np.float32),
            "intrinsics": b["intrinsics"]}


def dataset_people(data, size, limit=None, log=print):
    """LSP (``source: "lsp"``, a ``joints.mat``) or MPII (``"mpii"``, the JSON or the official
    ``.mat``) records under ``data["dir"]`` as a pool like :func:`people`: person-centred crops
    of ``size`` (:func:`dgpose_tf.data.pipeline.crop_person`), the 16 joints by the paper's rule,
    ``labelled`` = annotated and inside the crop. The datasets have no person masks (the paper
    trains its mask estimator on UP-S1h): ``mask`` is empty and the mask estimator is trained on
    synthetic people of the same size; ``joints3d`` is absent (no plausibility bound)."""
    import cv2

    from ..data.pipeline import crop_person
    from .mirrornet import to_mirrornet16

    source = data.get("source")
    if not data.get("dir"):
        raise ValueError(f"data.dir is not set: pass --data-dir with the {source} files")
    root = Path(data["dir"])
    if not root.is_dir():
        raise FileNotFoundError(f"data directory not found: {root}")
    ann = root / data.get("annotations", "joints.mat" if source == "lsp" else "train.json")
    images = root / data.get("images", "images")
    if source == "lsp":
        from ..data.lsp import load_lsp
        records = load_lsp(ann, images)
    elif source == "mpii":
        from ..data.mpii import load_mpii_json, load_mpii_mat
        records = (load_mpii_json(ann, images) if ann.suffix == ".json"
                   else load_mpii_mat(ann, images, train_only=True))
    else:
        raise ValueError(f"data.source must be 'synthetic', 'lsp' or 'mpii', got {source!r}")
    records = records[:limit] if limit else records
    out = {k: [] for k in ("image", "joints", "labelled")}
    for i, r in enumerate(records):
        img = cv2.imread(r.image)
        if img is None:
            raise FileNotFoundError(f"image not found or unreadable: {r.image}")
        if not r.visible.any():
            continue
        crop, joints = crop_person(img[..., ::-1], r.joints, r.visible, size)
        j16, v16 = to_mirrornet16(joints, r.skeleton, r.visible)
        out["image"].append(crop)
        out["joints"].append(np.nan_to_num(j16).astype(np.float32))
        out["labelled"].append(v16 & np.all((j16 > -0.5) & (j16 < size - 0.5), -1))
        if (i + 1) % 1000 == 0:
            log(f"  {i + 1}/{len(records)} {source} records cropped")
    pool = {k: np.stack(v) for k, v in out.items()}
    pool["visible"] = pool["labelled"]
    pool["mask"] = np.zeros(pool["image"].shape[:3] + (1,), np.uint8)
    return pool


def label_split(n, fraction, seed):
    """Indices ``(annotated, not annotated)`` of a pool of ``n``: a seeded permutation's first
    ``round(fraction·n)``."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"label fraction must be in (0, 1], got {fraction}")
    order = np.random.default_rng([seed, 7]).permutation(n)
    k = int(round(fraction * n))
    return np.sort(order[:k]), np.sort(order[k:])


def _tensors(pool, idx, labelled):
    return {"image": pool["image"][idx], "mask": pool["mask"][idx],
            "joints": pool["joints"][idx],
            "visible": pool["labelled"][idx].astype(np.float32) * float(labelled),
            "labelled": np.full(len(idx), float(labelled), np.float32)}


def training_dataset(pool, idx, batch, seed, unlabelled=None, unlabelled_batch=0, flip=True):
    """Endless shuffled batches of ``pool[idx]`` (annotated), optionally concatenated with
    ``unlabelled_batch`` images of ``pool[unlabelled]`` per batch (their ``labelled`` flag 0).
    ``flip``: horizontal flips with probability ½ (joints mirrored and left/right swapped)."""
    import tensorflow as tf

    from .mirrornet import SKELETON

    flip_idx = SKELETON.flip_indices

    def make(ids, lab, n, s):
        d = tf.data.Dataset.from_tensor_slices(_tensors(pool, ids, lab))
        d = d.shuffle(len(ids), seed=s, reshuffle_each_iteration=True).repeat()
        return d.map(aug(s), num_parallel_calls=1).batch(n, drop_remainder=True)

    def aug(s):
        def f(x):
            x = dict(x)
            x["image"] = tf.cast(x["image"], tf.float32) / 127.5 - 1.0
            x["mask"] = tf.cast(x["mask"], tf.float32)
            if not flip:
                return x
            size = float(pool["image"].shape[1])
            do = tf.random.uniform([], seed=None) < 0.5
            fj = tf.gather(x["joints"], flip_idx) * [-1.0, 1.0] + [size - 1.0, 0.0]
            x["joints"] = tf.where(do, fj, x["joints"])
            x["visible"] = tf.where(do, tf.gather(x["visible"], flip_idx), x["visible"])
            x["image"] = tf.where(do, x["image"][:, ::-1], x["image"])
            x["mask"] = tf.where(do, x["mask"][:, ::-1], x["mask"])
            return x
        return f

    tf.random.set_seed(seed)
    ds = make(idx, True, batch, seed)
    if unlabelled is not None and unlabelled_batch:
        other = make(unlabelled, False, unlabelled_batch, seed + 1)
        ds = tf.data.Dataset.zip(ds, other).map(
            lambda a, b: {k: tf.concat([a[k], b[k]], 0) for k in a})
    return ds.prefetch(2)


class _Scores(keras.callbacks.Callback):
    """The recognizer's test predictions at chosen steps of a phase."""

    def __init__(self, images, at):
        super().__init__()
        self.images, self.at, self.preds, self.step = images, set(at), [], 0

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step in self.at:
            self.preds.append(predict_joints(self.model, self.images))


def predict_joints(model, images, batch=128):
    """The recognizer's decoded joints ``(N, 16, 2)`` for uint8 or [−1, 1] images."""
    from .mirrornet import check_images, decode

    out = []
    for i in range(0, len(images), batch):
        x = np.asarray(images[i:i + batch])
        x = x.astype(np.float32) / 127.5 - 1.0 if x.dtype == np.uint8 else x
        x = check_images(x, model.cfg["image_size"])
        joints, _ = decode(model.recognizer(x, training=False), model.cfg["image_size"])
        out.append(joints.numpy())
    return np.concatenate(out)


def train_mask_estimator(model, mask_people, steps, seed=0, log=print):
    """Pre-train ``model``'s mask estimator on ``mask_people`` (true joints, true masks)."""
    model.set_objective("mask")
    model.compile()
    idx = np.arange(len(mask_people["image"]))
    ds = training_dataset(mask_people, idx, model.cfg["batch_size"], seed)
    h = model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    log(f"mask estimator: {steps} steps, mse {h.history['mask_mse'][-1]:.4f}")
    return model.mask_estimator.get_weights()


class Curriculum:
    """The curriculum for one label ``fraction`` and ``seed`` of ``pool`` (see module doc).

    ``steps``: ``pretrain`` (recognizer, step 1), ``tail`` (each arm after step 1),
    ``image_vae``, ``pose_vae``. ``test``: people whose images each arm's recognizer is scored
    on (predictions are kept; figures come from :mod:`dgpose_tf.evaluate.mirrornet`)."""

    def __init__(self, config, out_dir, pool, fraction, seed, steps, test_images,
                 mask_weights, log=print, run_eagerly=False):
        self.config, self.pool, self.fraction, self.seed = config, pool, fraction, seed
        self.steps, self.test_images, self.mask_weights = dict(steps), test_images, mask_weights
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.log, self.run_eagerly = log, run_eagerly
        self.labelled, self.unlabelled = label_split(len(pool["image"]), fraction, seed)
        self.k = max(1, self.steps["tail"] // 20)
        info = self.out / "config.json"      # so each arm's weights load as a training run
        if not info.exists():
            info.write_text(json.dumps({"family": "mirrornet", "name": f"mirrornet_{self.out.name}",
                                        "model": dict(config) if isinstance(config, dict)
                                        else config, **self.describe()}, indent=1))

    def _model(self, **overrides):
        from .mirrornet import MirrorNet

        keras.utils.set_random_seed(self.seed)
        return MirrorNet(self.config, **overrides)

    def _fit(self, model, objective, steps, score=False, unlabelled=False, seed_offset=0):
        model.set_objective(objective)
        model.compile(run_eagerly=self.run_eagerly)
        c = model.cfg
        if unlabelled:
            n_lab = c["labelled_per_batch"]
            ds = training_dataset(self.pool, self.labelled, n_lab, self.seed + seed_offset,
                                  self.unlabelled, c["batch_size"] - n_lab)
        else:
            ds = training_dataset(self.pool, self.labelled, c["batch_size"],
                                  self.seed + seed_offset)
        cbs = []
        if score:
            at = [steps - i * self.k for i in range(N_LAST) if steps - i * self.k > 0]
            cbs.append(_Scores(self.test_images, at))
        t = time.time()
        h = model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=cbs,
                      shuffle=False)
        self.log(f"  [{self.fraction:.0%} s{self.seed}] {objective}: {steps} steps in "
                 f"{time.time() - t:.0f} s; "
                 + ", ".join(f"{k} {v[-1]:.4g}" for k, v in h.history.items()))
        return cbs[0].preds if score else None

    def step1(self):
        """Pre-train the recognizer, the image VAE and the pose VAE (weights saved)."""
        path = self.out / "step1.weights.h5"
        model = self._model()
        if path.exists():
            model.load_weights(path)
            return model
        model.mask_estimator.set_weights(self.mask_weights)
        self.log(f"step 1 ({self.fraction:.0%} labels, seed {self.seed}, "
                 f"{len(self.labelled)} annotated)")
        self._fit(model, "recognizer", self.steps["pretrain"])
        self._fit(model, "image_vae", self.steps["image_vae"], seed_offset=1)
        self._fit(model, "pose_vae", self.steps["pose_vae"], seed_offset=2)
        model.save_weights(path)
        return model

    def step1_for(self, arm):
        """Step 1 of an arm whose generator variances differ from the paper's: the step-1
        recognizer, the image and pose VAEs pre-trained again (from scratch, same steps) at the
        arm's variances. Returns the weights file."""
        if ARMS[arm].get("image_variance", 1.0) == 1.0 and ARMS[arm].get("pose_variance", 1.0) == 1.0:
            return self.out / "step1.weights.h5"
        path = self.out / f"step1_{arm}.weights.h5"
        if not path.exists():
            base = self.step1()
            model = self._model(**ARMS[arm])
            model.mask_estimator.set_weights(self.mask_weights)
            model.recognizer.set_weights(base.recognizer.get_weights())
            self.log(f"step 1 of {arm}: image and pose VAEs at its variances")
            self._fit(model, "image_vae", self.steps["image_vae"], seed_offset=1)
            self._fit(model, "pose_vae", self.steps["pose_vae"], seed_offset=2)
            model.save_weights(path)
        return path

    def run(self, arm):
        """Train one arm from step 1 (or step 2a for ``semi``); returns the recognizer's test
        predictions at its last :data:`N_LAST` evaluations, saved as ``<arm>.npz``."""
        if arm not in ARMS:
            raise ValueError(f"unknown arm {arm!r}; arms: {sorted(ARMS)}")
        path = self.out / f"{arm}.npz"
        if path.exists():
            return list(np.load(path)["preds"])
        self.step1()
        model = self._model(**ARMS[arm])
        tail, half = self.steps["tail"], self.steps["tail"] // 2
        self.log(f"arm {arm} ({self.fraction:.0%} labels, seed {self.seed})")
        if arm == "baseline":      # two halves on the supervised arms' data order
            model.load_weights(self.out / "step1.weights.h5")
            self._fit(model, "recognizer", half, seed_offset=3)
            preds = self._fit(model, "recognizer", tail - half, score=True, seed_offset=4)
        elif arm == "semi":
            step2 = self.out / "step2_reflective.weights.h5"
            if not step2.exists():
                self.run("reflective")
            model.load_weights(step2)
            preds = self._fit(model, "semi", tail - half, score=True, unlabelled=True,
                              seed_offset=5)
        else:
            model.load_weights(self.step1_for(arm))
            self._fit(model, "supervised", half, seed_offset=3)
            if arm == "reflective":
                model.save_weights(self.out / "step2_reflective.weights.h5")
            preds = self._fit(model, "supervised", tail - half, score=True, seed_offset=4)
        model.save_weights(self.out / f"{arm}.weights.h5")
        np.savez(path, preds=np.stack(preds))
        return preds

    def describe(self):
        return {"fraction": self.fraction, "seed": self.seed, "annotated": len(self.labelled),
                "steps": self.steps}
