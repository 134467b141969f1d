"""Fit a VUNet (2.5D pose-guided conditional variational U-Net) from a config: perceptual loss
+ ramped KL, the reference's Adam and schedules (:mod:`dgpose_tf.models.vunet`).

    dgpose train training/configs/vunet25d_synthetic.json
    python training/fit_vunet.py training/configs/<entry>.json

Config keys: ``model`` (VUNet arguments: ``image_size``, ``stickman`` "three_layer" | "2d" |
"2d_depth", ``box_factor``, ``bottleneck_factor``, ``n_filters``, ``max_filters``, ``dropout``,
``trim_dead_taps``); ``data``: ``source`` "synthetic" (``seed``, ``size``, ``rule``
"occlusion" | "depth" — the limb labelling rule, ``margin`` in metres, ``background`` "grey" |
"scene") or "h36m" / "deepfashion" (``dir`` — ``dgpose train --data-dir`` —, ``annotations``,
``label_file`` with hand labels, ``rule``, ``margin`` in the 3-D units, ``frame``; see
:func:`vunet_training_data`); ``loss``: ``kind`` "vgg16" | "vgg19" | "l1_ssim", ``weights`` (the VGG file; also
``$DGPOSE_VGG_WEIGHTS``), ``fallback`` ("l1_ssim" or null to require the file), ``scale`` (5);
``train``: ``steps`` (the reference's ``lr_decay_end``), ``lr_decay_begin``, ``steps_per_epoch``,
``batch_size``, ``learning_rate``, ``beta_1``, ``beta_2``, ``kl_ramp``,
``posterior_noise_ramp`` (see :meth:`VUNet.compile`), ``threads`` (TensorFlow
intra-op threads; 0 = all cores), ``eval_every``, ``eval_n``; ``seed``; ``output``.

Writes ``<output>/vunet.weights.h5``, ``config.json`` (with ``loss.used``: the perceptual loss
actually used), TensorBoard logs, ``curves.csv`` / ``curves.png`` (held-out reconstruction and
transfer figures against the copy-source answer) and a resumable ``backup/``.
"""

from __future__ import annotations


def main(config, steps=None, strategy=None, output=None):
    import json
    import os
    from pathlib import Path

    import tensorflow as tf

    train, data, model_cfg = config["train"], config["data"], config["model"]
    threads = int(train.get("threads", 0))
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from dgpose_tf.evaluate_vunet import VunetCurves
    from dgpose_tf.fit import _epochs_done, standard_callbacks, start_run
    from dgpose_tf.models.perceptual import build_perceptual
    from dgpose_tf.models.vunet import VUNet

    out, strat = start_run(config, strategy, output)
    total = int(steps or train["steps"])
    per_epoch = int(min(total, train.get("steps_per_epoch", 250)))
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
                                      float(loss_cfg.get("scale", 5.0)))
        model.compile(perceptual, learning_rate=float(train.get("learning_rate", 1e-3)),
                      beta_1=float(train.get("beta_1", 0.5)), beta_2=float(train.get("beta_2", 0.9)),
                      steps=total, lr_decay_begin=int(train.get("lr_decay_begin", total // 100)),
                      kl_ramp=tuple(train.get("kl_ramp", (0.5, 0.75))),
                      posterior_noise_ramp=bool(train.get("posterior_noise_ramp", False)))
    saved = {k: v for k, v in config.items() if not k.startswith("_")}
    saved["loss"] = {**loss_cfg, "used": perceptual.kind}
    (out / "config.json").write_text(json.dumps(saved, indent=1))

    def prepared(b):
        crops, stick = model.prepare(b["image"], b["joints"], b["valid"], b["labels"])
        return {"image": b["image"], "crops": crops, "stickman": stick}

    done = _epochs_done(out) * per_epoch
    model.steps_before = done
    ds = vunet_training_data(data, batch, size, done).map(prepared).prefetch(2)
    if not done:
        model.data_init(next(iter(ds)))       # the reference's data-dependent initialisation
    print(f"vunet ({model.stickman} stickman, {size}²): {total} steps of batch {batch}, "
          f"perceptual loss {perceptual.kind}, "
          f"{sum(int(tf.size(v)) for v in model.trainable_variables):,} parameters")
    callbacks = standard_callbacks(out)
    if train.get("eval_every"):
        callbacks.append(VunetCurves(out, int(train["eval_every"]), int(train.get("eval_n", 64)),
                                     batch, size, data.get("rule", "occlusion"), step0=done))
    model.fit(ds, steps_per_epoch=per_epoch, epochs=max(1, total // per_epoch),
              callbacks=callbacks)
    path = Path(out) / "vunet.weights.h5"
    model.save_weights(str(path))
    print(f"saved {path}")
    return model


def vunet_training_data(data, batch, size, done=0):
    """The endless training batches of a config's ``data``: "synthetic" (rendered on the fly,
    resuming after the ``done`` steps already seen) or a dataset in its official format
    ("h36m", "deepfashion": files under ``dir``, ``annotations`` inside it) with limb labels from
    ``label_file`` (one line per image) or from the records' 3-D joints (``rule``, ``margin`` in
    the 3-D units, ``frame`` "world" | "camera")."""
    from pathlib import Path

    from dgpose_tf.data.depth_labels import labels_for
    from dgpose_tf.data.pipeline import vunet_dataset, vunet_records_dataset
    from dgpose_tf.fit import load_records

    if data.get("source", "synthetic") == "synthetic":
        return vunet_dataset(None, batch, size, int(data.get("seed", 0)), start=done * batch,
                             rule=data.get("rule", "occlusion"),
                             margin=float(data.get("margin", 0.05)),
                             background=data.get("background", "grey"))
    records = load_records(data)
    label_file = data.get("label_file")
    labels = labels_for(records, Path(data["dir"]) / label_file if label_file else None,
                        rule=data.get("rule", "occlusion"), margin=float(data.get("margin", 50.0)),
                        frame=data.get("frame", "world"))
    return vunet_records_dataset(records, labels, batch, size, seed=int(data.get("seed", 0)))


if __name__ == "__main__":
    from dgpose_tf.fit import script_main

    script_main(main)
