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


def publish_sandbox(tmp_path, card_name):
    """``training/publish.py`` as a module and a fake repository (``zoo/`` holding a copy of the
    card ``card_name``, an empty ``saved_models/``): ``(publish, fake_repo, original_card)``."""
    import importlib.util
    import shutil
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("publish", repo / "training" / "publish.py")
    publish = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(publish)
    fake = tmp_path / "repo"
    (fake / "zoo").mkdir(parents=True)
    (fake / "saved_models").mkdir()
    card = repo / "zoo" / f"{card_name}.json"
    shutil.copy(card, fake / "zoo" / card.name)
    return publish, fake, card
