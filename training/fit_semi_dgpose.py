"""Fit Semi-DGPose from a config: the Mapper first (offline, L2 to ground-truth heatmaps), then
the full semi-supervised VAE-GAN with the Mapper frozen (paper §3, §4).

    dgpose train training/configs/<entry>.json [--steps N] [--strategy mirrored] [--output DIR]
    python training/fit_semi_dgpose.py training/configs/<entry>.json

Config keys: ``model`` (SemiDGPose arguments, e.g. ``{"width": 0.25}``); ``data`` (``source``:
"synthetic" with ``seed`` and ``fraction`` labelled, or "shards" with ``dir``); ``mapper``
(``steps``, ``batch_size``; skipped when ``<output>/mapper.weights.h5`` exists); ``train``
(``steps``, ``steps_per_epoch``, ``batch_size``, ``learning_rate``, ``weight_decay``, ``alpha``,
``gamma``, ``strategy``); ``seed``; ``output``. Writes ``<output>/semi_dgpose.weights.h5``,
``mapper.weights.h5``, ``config.json`` and TensorBoard logs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _dataset(data, batch_size, heatmaps, seed_offset=0):
    from dgpose_tf.data import pipeline

    source = data.get("source", "synthetic")
    if source == "synthetic":
        return pipeline.synthetic_dataset(None, batch_size, data.get("size", 64),
                                          data.get("seed", 0) + seed_offset,
                                          fraction=data.get("fraction", 1.0), heatmaps=heatmaps)
    if source == "shards":
        return pipeline.shard_dataset(data["dir"], batch_size, data.get("fraction", 1.0),
                                      heatmaps=heatmaps, shuffle=4096).repeat()
    raise ValueError(f"data.source must be 'synthetic' or 'shards', got {source!r}")


def main(config, steps=None, strategy=None, output=None):
    import keras

    from dgpose_tf.data import pipeline
    from dgpose_tf.fit import make_strategy, standard_callbacks
    from dgpose_tf.models.semi_dgpose import MapperTrainer, SemiDGPose

    keras.utils.set_random_seed(int(config.get("seed", 0)))
    out = Path(output or config["output"])
    out.mkdir(parents=True, exist_ok=True)
    train, data = config["train"], config["data"]
    lr, wd = train.get("learning_rate", 1e-4), train.get("weight_decay", 5e-4)
    strat = make_strategy(strategy or train.get("strategy", "default"))
    with strat.scope():
        model = SemiDGPose(**config["model"])
        model.compile(learning_rate=lr, weight_decay=wd, alpha=train.get("alpha", 100.0),
                      gamma=train.get("gamma", 1.0))

    mapper_file = out / "mapper.weights.h5"
    if mapper_file.exists():
        model.mapper.load_weights(str(mapper_file))
        print(f"mapper: loaded {mapper_file}")
    else:
        mcfg = config.get("mapper", {})
        with strat.scope():
            model.mapper.trainable = True
            trainer = MapperTrainer(model.mapper, weight_decay=wd)
            trainer.compile(optimizer=keras.optimizers.Adam(lr))
        m_steps = int(mcfg.get("steps", 2000))
        m_epoch = int(min(m_steps, mcfg.get("steps_per_epoch", 500)))
        print(f"mapper: {m_steps} steps of batch {mcfg.get('batch_size', 64)}")
        trainer.fit(_dataset(data, mcfg.get("batch_size", 64), True), steps_per_epoch=m_epoch,
                    epochs=max(1, m_steps // m_epoch), callbacks=[keras.callbacks.TerminateOnNaN()])
        model.mapper.trainable = False
        model.mapper.save_weights(str(mapper_file))

    total = int(steps or train["steps"])
    per_epoch = int(min(total, train.get("steps_per_epoch", 500)))
    preview = next(iter(pipeline.synthetic_dataset(16, 16, seed=10_000 + data.get("seed", 0),
                                                   heatmaps=False)))["image"].numpy()
    print(f"semi_dgpose: {total} steps of batch {train.get('batch_size', 64)}, "
          f"labelled fraction {data.get('fraction', 1.0)}")
    history = model.fit(_dataset(data, train.get("batch_size", 64), False),
                        steps_per_epoch=per_epoch, epochs=max(1, total // per_epoch),
                        callbacks=standard_callbacks(out, preview))
    model.save_weights(str(out / "semi_dgpose.weights.h5"))
    saved = {k: v for k, v in config.items() if not k.startswith("_")}
    (out / "config.json").write_text(json.dumps(saved, indent=1))
    print(f"saved {out / 'semi_dgpose.weights.h5'}")
    return model, history


if __name__ == "__main__":
    from dgpose_tf.fit import load_config

    if len(sys.argv) != 2:
        sys.exit("usage: python training/fit_semi_dgpose.py CONFIG.json")
    main(load_config(sys.argv[1]))
