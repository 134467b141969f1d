"""Fit Conditional-DGPose from a config: the conditional VAE-GAN (KL + L1 + adversarial).

    python training/fit_conditional_dgpose.py training/configs/conditional_dgpose_synthetic.json [--steps N] [--output DIR]
        [--restart] [--on-nan rollback]
        [--strategy multiworker --workers HOST:PORT,HOST:PORT --worker-index I]
    dgpose train training/configs/conditional_dgpose_synthetic.json          (the same, from an installed package)

A thin script: the logic, its config keys and what it writes are in
:mod:`dgpose_tf.fit.conditional_dgpose`; the resumable ``model.fit`` loop is :func:`dgpose_tf.fit.fit_steps`.
An existing run folder is resumed from its last checkpoint.
"""

from dgpose_tf.fit import script_main

if __name__ == "__main__":
    script_main("conditional_dgpose")
