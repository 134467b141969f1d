"""The demos: ``dgpose demo`` (:mod:`~dgpose_tf.demos.models`: every shipped entry at work, on
synthetic people, motion and real photos) and ``dgpose geometry-demo``
(:mod:`~dgpose_tf.demos.geometry`: heatmaps, decoding, conversions, alignment, metrics)."""
