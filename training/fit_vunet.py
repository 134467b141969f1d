"""Fit a VUNet (2.5D pose-guided conditional variational U-Net) from a config: perceptual loss + ramped KL with the reference's schedules.

    python training/fit_vunet.py training/configs/vunet25d_synthetic.json [--steps N] [--output DIR]
        [--restart] [--on-nan rollback]
        [--strategy multiworker --workers HOST:PORT,HOST:PORT --worker-index I]
    dgpose train training/configs/vunet25d_synthetic.json          (the same, from an installed package)

A thin script: the logic, its config keys and what it writes are in
:mod:`dgpose_tf.fit.vunet`; the resumable ``model.fit`` loop is :func:`dgpose_tf.fit.fit_steps`.
An existing run folder is resumed from its last checkpoint.
"""

from dgpose_tf.fit import script_main

if __name__ == "__main__":
    script_main("vunet")
