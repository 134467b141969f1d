"""Fit Conditional-DGPose from a config: the conditional VAE-GAN (KL + L1 + adversarial), fully
supervised — every image comes with its pose heatmaps.

    dgpose train training/configs/<entry>.json [--steps N] [--strategy mirrored] [--output DIR]
    python training/fit_conditional_dgpose.py training/configs/<entry>.json

Config keys: ``model`` (ConditionalDGPose arguments, e.g. ``{"width": 0.125}``); ``data`` (as in
``fit_semi_dgpose.py``; ``fraction`` is ignored: the model needs every pose); ``train``
(``steps``, ``steps_per_epoch``, ``batch_size``, ``learning_rate``, ``beta_1``,
``d_learning_rate``, ``label_smoothing``, ``weight_decay``, ``precision``, ``eval_every``,
``eval_n``, ``strategy``, ``kl_warmup``, ``kl_beta``, ``init_weights``: a
``conditional_dgpose.weights.h5`` of an earlier stage to start from, with this config's learning
rates and, if ``model.sigma_init`` is set, the σ head restarted there); ``seed``; ``output``.
Writes ``<output>/conditional_dgpose.weights.h5``, ``config.json`` and TensorBoard logs.
"""

from __future__ import annotations


def main(config, steps=None, strategy=None, output=None, **run_options):
    """``run_options``: ``workers``, ``worker_index``, ``on_nan``, ``restart`` (:func:`~dgpose_tf.fit.start_run`)."""
    from . import check_init_weights, fit_and_save, gan_settings, start_run, warm_start_gan
    from ..models.conditional_dgpose import ConditionalDGPose

    train = config["train"]
    check_init_weights(train)
    run = start_run(config, strategy, output, **run_options)
    out, strat = run
    with strat.scope():
        model = ConditionalDGPose(**config["model"])
        model.compile(**gan_settings(train))
        warm_start_gan(model, train, run.folder)
    history = fit_and_save(model, config, run, steps, heatmaps=True)
    return model, history

