"""Fit the pose-sequence AE-GAN from a config: WGAN-GP critic, generator and encoder with the autoencoder and mixed objectives.

    python training/fit_pose_sequence_aegan.py training/configs/pose_sequence_aegan_synthetic.json [--steps N] [--output DIR]
        [--restart] [--on-nan rollback]
        [--strategy multiworker --workers HOST:PORT,HOST:PORT --worker-index I]
    dgpose train training/configs/pose_sequence_aegan_synthetic.json          (the same, from an installed package)

A thin script: the logic, its config keys and what it writes are in
:mod:`dgpose_tf.fit.pose_sequence_aegan`; the resumable ``model.fit`` loop is :func:`dgpose_tf.fit.fit_steps`.
An existing run folder is resumed from its last checkpoint.
"""

from dgpose_tf.fit import script_main

if __name__ == "__main__":
    script_main("pose_sequence_aegan")
