import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def make_run(folder, family, name, seed=0, width=0.0625, config=None):
    """A finished training run of a tiny untrained ``family`` model (``config``: constructor
    arguments, default ``{"width": width}``): ``config.json`` + weights in ``folder``. Returns
    the model."""
    import json

    import keras

    from dgpose_tf.models import build_model

    keras.utils.set_random_seed(seed)
    config = dict(config or {"width": width})
    model = build_model(family, config)
    folder.mkdir(parents=True)
    model.save_weights(str(folder / f"{family}.weights.h5"))
    (folder / "config.json").write_text(json.dumps({"name": name, "family": family,
                                                    "model": config}))
    return model
