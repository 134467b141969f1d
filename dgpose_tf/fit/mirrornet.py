"""Fit MirrorNet by its curriculum (§4, §5.2) over label fractions and seeds, with every arm the
evaluation compares (:mod:`dgpose_tf.models.mirrornet_curriculum`).

    dgpose train training/configs/mirrornet_synthetic.json
    python training/fit_mirrornet.py training/configs/mirrornet_synthetic.json [--runs 0.25:0,0.1:0]

Config keys: ``model`` (a :data:`dgpose_tf.models.mirrornet.CONFIGS` name as ``config`` plus
overrides); ``data``: ``source`` "synthetic" (``pool`` people of ``seed``, ``mask_people`` of
``mask_seed`` for the mask estimator, ``test`` people of the test seed) or "lsp" / "mpii"
(``dir``; the paper entries); ``train``: ``steps`` (``pretrain``, ``tail``, ``image_vae``,
``pose_vae``, ``mask``), ``threads``; ``runs``: a list of ``{"fraction", "seed", "arms"}``;
``output``.

LSP / MPII (``mirrornet_lsp.json``, ``mirrornet_mpii.json``): ``dgpose train CONFIG --data-dir
DIR``; the crops are held in memory (11,000 LSP crops at 256² are 2.2 GB), the last ``test``
records are held out, and the mask estimator learns from synthetic people at 256² (the paper's
UP-S1h masks are not loaded here).

Writes, under ``<output>/``: ``data.npz`` (the rendered pool and test people), ``mask.npz``
(the mask estimator's weights), one folder per fraction and seed with ``step1.weights.h5``, one
``<arm>.weights.h5`` and ``<arm>.npz`` (test predictions) per arm, and ``log.txt``. Finished
pieces are kept, so a killed run continues where it stopped. ``dgpose evaluate <output>`` prints
the label-fraction table with the mean-pose floor and checks the aims.
"""

from __future__ import annotations


def main(config, runs=None, output=None, strategy=None, steps=None, restart=False,
         on_nan=None, workers=None, worker_index=None):
    """``steps`` (``dgpose train --steps``) sets every phase's step count (a quick trial);
    ``restart`` deletes the output folder first. The curriculum runs on one machine and keeps
    finished pieces (no ``--strategy``, ``--workers``, ``--on-nan rollback``)."""
    import os
    from pathlib import Path

    import numpy as np
    import tensorflow as tf

    from ..evaluate.dgpose import TEST_SEED
    from ..models import mirrornet_curriculum as mc

    if config["data"].get("source") == "lspet":
        from . import mirrornet_photos
        return mirrornet_photos.main(config, output=output, steps=steps, restart=restart)
    train, data = config["train"], config["data"]
    threads = int(train.get("threads", 0))
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    if strategy not in (None, "default") or workers or worker_index is not None:
        raise ValueError("MirrorNet's curriculum runs on one machine (no --strategy/--workers)")
    if on_nan not in (None, "stop"):
        raise ValueError("MirrorNet's curriculum has no --on-nan rollback: a failed piece is "
                         "re-run from the last finished one")
    out = Path(output or config["output"])
    if restart and out.exists():
        import shutil
        shutil.rmtree(out)
        print(f"--restart: deleted the previous run in {out}")
    out.mkdir(parents=True, exist_ok=True)
    import json
    (out / "config.json").write_text(json.dumps({k: v for k, v in config.items()
                                                 if not k.startswith("_")}, indent=1))
    log_file = open(out / "log.txt", "a")

    def log(msg):
        print(msg, flush=True)
        log_file.write(msg + "\n")
        log_file.flush()

    model_cfg = dict(config["model"])
    name = model_cfg.pop("config", "cpu64")
    from ..models.mirrornet import CONFIGS
    cfg = {**CONFIGS[name], **model_cfg}
    size = cfg["image_size"]
    cache = out / "data.npz"
    if cache.exists():
        z = np.load(cache)
        pool = {k[5:]: z[k] for k in z.files if k.startswith("pool_")}
        test = {k[5:]: z[k] for k in z.files if k.startswith("test_")}
    elif data.get("source", "synthetic") == "synthetic":
        log(f"rendering {data['pool']} pool people and {data['test']} test people")
        pool = mc.people(int(data["pool"]), int(data.get("seed", mc.POOL_SEED)), size)
        test = mc.people(int(data["test"]), TEST_SEED, size)
    else:      # LSP / MPII: the last `test` records are held out for the figures
        everyone = mc.dataset_people(data, size, data.get("limit"), log=log)
        k = len(everyone["image"]) - int(data["test"])
        pool = {key: v[:k] for key, v in everyone.items()}
        test = {key: v[k:] for key, v in everyone.items()}
    if not cache.exists():
        tmp = out / "data.partial.npz"
        np.savez(tmp, **{f"pool_{k}": v for k, v in pool.items()},
                 **{f"test_{k}": v for k, v in test.items()})
        os.replace(tmp, cache)
    steps = dict(train["steps"]) if steps is None else {k: int(steps) for k in train["steps"]}

    mask_file = out / "mask.npz"
    if mask_file.exists():
        mask_weights = list(np.load(mask_file).values())
    else:
        import keras

        from ..models.mirrornet import MirrorNet
        keras.utils.set_random_seed(int(config.get("seed", 0)))
        people = mc.people(int(data["mask_people"]), int(data.get("mask_seed", mc.MASK_SEED)),
                           size)
        model = MirrorNet(cfg)
        mask_weights = mc.train_mask_estimator(model, people, int(steps["mask"]), log=log)
        tmp = out / "mask.partial.npz"
        np.savez(tmp, *mask_weights)
        os.replace(tmp, mask_file)

    todo = config["runs"]
    if runs:
        wanted = {(float(f), int(s)) for f, s in (r.split(":") for r in runs.split(","))}
        todo = [r for r in todo if (float(r["fraction"]), int(r["seed"])) in wanted]
    for run in todo:
        folder = out / f"labels{int(round(100 * run['fraction'])):03d}_seed{run['seed']}"
        cur = mc.Curriculum(cfg, folder, pool, float(run["fraction"]), int(run["seed"]),
                            steps, test["image"], mask_weights, log=log)
        for arm in run["arms"]:
            cur.run(arm)
    log("done")
    return out

