"""Fit Semi-DGPose from a config: the Mapper, the optional pose warm start, then the semi-supervised VAE-GAN.

    python training/fit_semi_dgpose.py training/configs/semi_dgpose_synthetic.json [--steps N] [--output DIR]
        [--restart] [--on-nan rollback]
        [--strategy multiworker --workers HOST:PORT,HOST:PORT --worker-index I]
    dgpose train training/configs/semi_dgpose_synthetic.json          (the same, from an installed package)

A thin script: the logic, its config keys and what it writes are in
:mod:`dgpose_tf.fit.semi_dgpose`; the resumable ``model.fit`` loop is :func:`dgpose_tf.fit.fit_steps`.
An existing run folder is resumed from its last checkpoint.
"""

from dgpose_tf.fit import script_main

if __name__ == "__main__":
    script_main("semi_dgpose")
