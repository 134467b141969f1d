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


def main(config, steps=None, strategy=None, output=None):
    import keras

    from dgpose_tf.fit import fit_and_save, start_run, training_dataset
    from dgpose_tf.models.semi_dgpose import MapperTrainer, SemiDGPose

    out, strat = start_run(config, strategy, output)
    train, data = config["train"], config["data"]
    lr, wd = train.get("learning_rate", 1e-4), train.get("weight_decay", 5e-4)
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
        trainer.fit(training_dataset(data, mcfg.get("batch_size", 64), True),
                    steps_per_epoch=m_epoch, epochs=max(1, m_steps // m_epoch),
                    callbacks=[keras.callbacks.TerminateOnNaN()])
        model.mapper.trainable = False
        model.mapper.save_weights(str(mapper_file))

    history = fit_and_save(model, config, out, steps, heatmaps=False)
    return model, history


if __name__ == "__main__":
    from dgpose_tf.fit import script_main

    script_main(main)
