"""Fit a VUNet (2.5D pose-guided conditional variational U-Net) from a config: perceptual loss
+ ramped KL, the reference's Adam and schedules (:mod:`dgpose_tf.models.vunet`).

    dgpose train training/configs/vunet25d_synthetic_stage1.json   # the shipped entry's stage 1,
    dgpose train training/configs/vunet25d_synthetic.json          # then stage 2 from its weights
    python training/fit_vunet.py training/configs/<entry>.json

Config keys: ``model`` (VUNet arguments: ``image_size``, ``stickman`` "three_layer" | "2d" |
"2d_depth", ``box_factor``, ``bottleneck_factor``, ``n_filters``, ``max_filters``, ``dropout``,
``trim_dead_taps``); ``data``: ``source`` "synthetic" (``seed``, ``size``, ``rule`` "occlusion" |
"depth" — the limb labelling rule, ``margin`` in metres, ``background`` "grey" | "scene") or "h36m"
/ "deepfashion" (``dir`` — ``dgpose train --data-dir`` —, ``annotations``, ``label_file`` with hand
labels, ``rule``, ``margin`` in the 3-D units, ``frame``; see :func:`vunet_training_data`);
``loss``: ``kind`` "vgg16" | "vgg19" | "l1_ssim", ``weights`` (the VGG file; also
``$DGPOSE_VGG_WEIGHTS``), ``fallback`` ("l1_ssim" or null to require the file), ``scale`` (5),
``tap_weights`` (one per term: the pixel L1, then each VGG tap; the reference's are all 1);
``train``: ``steps`` (the reference's ``lr_decay_end``), ``stop_at`` (end the run at this step, the
schedules unchanged), ``lr_decay_begin``, ``steps_per_epoch``,
``batch_size``, ``learning_rate``, ``beta_1``, ``beta_2``, ``kl_ramp``, ``kl_max`` (the KL weight
the ramp ends at; the reference's 1), ``init_weights`` (a ``.weights.h5`` to start from instead of
the data-dependent initialisation — a warm start), ``posterior_noise_ramp`` (see
:meth:`VUNet.compile`), ``threads`` (TensorFlow intra-op threads; 0 = all cores), ``eval_every``,
``eval_n``; ``seed``; ``output``.

Writes ``<output>/vunet.weights.h5``, ``config.json`` (with ``loss.used``: the perceptual loss
actually used), TensorBoard logs, ``curves.csv`` / ``curves.png`` (held-out reconstruction and
transfer figures against the copy-source answer) and a resumable ``backup/``.
"""

from __future__ import annotations


def main(config, steps=None, strategy=None, output=None, **run_options):
    """``run_options``: ``workers``, ``worker_index``, ``on_nan``, ``restart``."""
    import json
    import os
    from pathlib import Path

    import tensorflow as tf

    from . import check_init_weights

    train, data, model_cfg = config["train"], config["data"], config["model"]
    check_init_weights(train)
    from ..evaluate.vunet import VunetCurves
    from . import _steps_done, fit_steps, standard_callbacks, start_run, warm_start
    from ..models.perceptual import build_perceptual
    from ..models.vunet import VUNet

    total = int(steps or train["steps"])
    # ``train.stop_at``: end the run there while the schedules still run to ``steps`` (the
    # synthetic entries' stage 1 stopped at 3,500 of 4,000); checked before the run folder is
    # touched
    stop = int(train.get("stop_at") or total)
    if not 0 < stop <= total:
        raise ValueError(f"train.stop_at must be in 1 … train.steps ({total}), got {stop}")
    run = start_run(config, strategy, output, **run_options)
    out, strat = run
    per_epoch = int(min(stop, train.get("steps_per_epoch", 250)))
    batch = int(train.get("batch_size", 8))
    loss_cfg = config.get("loss", {})
    weights = loss_cfg.get("weights") or os.environ.get("DGPOSE_VGG_WEIGHTS")
    size = int(model_cfg.get("image_size", 256))
    if int(data.get("size", size)) != size:
        raise ValueError(f"data.size {data.get('size')} differs from model.image_size {size}")
    with strat.scope():
        model = VUNet(**model_cfg)
        model.build()
        perceptual = build_perceptual(loss_cfg.get("kind", "vgg16"), weights,
                                      loss_cfg.get("fallback", "l1_ssim"),
                                      float(loss_cfg.get("scale", 5.0)),
                                      tap_weights=loss_cfg.get("tap_weights"))
        model.compile(perceptual, learning_rate=float(train.get("learning_rate", 1e-3)),
                      beta_1=float(train.get("beta_1", 0.5)), beta_2=float(train.get("beta_2", 0.9)),
                      steps=total, lr_decay_begin=int(train.get("lr_decay_begin", total // 100)),
                      kl_ramp=tuple(train.get("kl_ramp", (0.5, 0.75))),
                      kl_max=float(train.get("kl_max", 1.0)),
                      posterior_noise_ramp=bool(train.get("posterior_noise_ramp", False)))
    saved = {k: v for k, v in config.items() if not k.startswith("_")}
    saved["loss"] = {**loss_cfg, "used": perceptual.kind}
    (out / "config.json").write_text(json.dumps(saved, indent=1))

    def prepared(b):
        crops, stick = model.prepare(b["image"], b["joints"], b["valid"], b["labels"])
        return {"image": b["image"], "crops": crops, "stickman": stick}

    if batch % run.workers:
        raise ValueError(f"train.batch_size {batch} is not divisible by the {run.workers} "
                         "workers")
    local = batch // run.workers

    def batches(start, worker, workers):
        ds = vunet_training_data(data, local, size, start, worker, workers, batch)
        return ds.map(prepared).prefetch(2)

    done = _steps_done(run.folder)
    if not done and not warm_start(model, train, run.folder):
        # the reference's data-dependent initialisation, on the whole first global batch (every
        # worker alike, as one process would); a warm start (the card says so) skips it
        model.data_init(next(iter(vunet_training_data(data, batch, size).map(prepared))))
    print(f"vunet ({model.stickman} stickman, {size}²): "
          f"{total if stop == total else f'{stop} of {total}'} steps of batch {batch}, "
          f"perceptual loss {perceptual.kind}, "
          f"{sum(int(tf.size(v)) for v in model.trainable_variables):,} parameters")
    callbacks = standard_callbacks(out)
    if train.get("eval_every"):
        callbacks.append(VunetCurves(out, int(train["eval_every"]), int(train.get("eval_n", 64)),
                                     batch, size, data.get("rule", "occlusion"), step0=done))
    fit_steps(model, config, run, batches, stop, per_epoch, callbacks, batch)
    path = Path(out) / "vunet.weights.h5"
    model.save_weights(str(path))
    print(f"saved {path}")
    return model


def vunet_training_data(data, batch, size, done=0, worker=0, workers=1, global_batch=None):
    """The endless training batches of a config's ``data`` from step ``done`` on: "synthetic"
    (rendered on the fly; with several workers each renders its ``batch`` people of every
    global batch) or a dataset in its official format
    ("h36m", "deepfashion": files under ``dir``, ``annotations`` inside it) with limb labels from
    ``label_file`` (one line per image) or from the records' 3-D joints (``rule``, ``margin`` in
    the 3-D units, ``frame`` "world" | "camera")."""
    from pathlib import Path

    from ..data.depth_labels import labels_for
    from ..data.pipeline import vunet_dataset, vunet_records_dataset
    from . import load_records

    global_batch = int(global_batch or batch)
    if data.get("source", "synthetic") == "synthetic":
        return vunet_dataset(None, batch, size, int(data.get("seed", 0)),
                             start=done * global_batch + worker * batch, stride=global_batch,
                             rule=data.get("rule", "occlusion"),
                             margin=float(data.get("margin", 0.05)),
                             background=data.get("background", "grey"))
    records = load_records(data)
    label_file = data.get("label_file")
    labels = labels_for(records, Path(data["dir"]) / label_file if label_file else None,
                        rule=data.get("rule", "occlusion"), margin=float(data.get("margin", 50.0)),
                        frame=data.get("frame", "world"))
    ds = vunet_records_dataset(records, labels, global_batch, size, seed=int(data.get("seed", 0)))
    ds = ds.skip(done)
    if workers > 1:
        ds = ds.map(lambda b: {k: v[worker * batch:(worker + 1) * batch] for k, v in b.items()})
    return ds

