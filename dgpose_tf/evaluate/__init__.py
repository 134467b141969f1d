"""Evaluation: every figure beside the answer that needs no model and, where one exists, what
users pick today. One module per family, the real-photo protocol, and the row every table prints:

* :mod:`~dgpose_tf.evaluate.table` — the shared row: figure, model, trivial answer, reference /
  anchor, ✗;
* :mod:`~dgpose_tf.evaluate.dgpose` — Semi-DGPose and Conditional-DGPose on the synthetic test set
  (one set, shared image figures);
* :mod:`~dgpose_tf.evaluate.vunet` — VUNet: transfer against rendered truth, occlusion pairs, the
  pose-space ablation;
* :mod:`~dgpose_tf.evaluate.mirrornet` — MirrorNet on synthetic people: PCK beside the mean-pose
  floor, plausibility, the label-fraction table;
* :mod:`~dgpose_tf.evaluate.pose_sequence_aegan` — the AE-GAN: held-out curves, CMU clips with
  detector-like errors, PCHIP / Savitzky-Golay / ridge;
* :mod:`~dgpose_tf.evaluate.photos` — real photos (LSPET's fixed split): PCK@0.2 torso and box,
  AUC, per joint, beside the mean-pose floor and BlazePose.
"""
