import json
import shutil
import stat

import keras
import numpy as np
import pytest

from conftest import make_run
from dgpose_tf import cli, zoo
from dgpose_tf.models.conditional_dgpose import ConditionalDGPose
from dgpose_tf.models.semi_dgpose import SemiDGPose


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """An empty zoo: bundled cards and models in tmp, $DGPOSE_HOME in tmp."""
    cards, models, home = tmp_path / "zoo", tmp_path / "saved_models", tmp_path / "home"
    cards.mkdir()
    models.mkdir()
    monkeypatch.setattr(zoo, "BUNDLED_CARDS", cards)
    monkeypatch.setattr(zoo, "BUNDLED_MODELS", models)
    monkeypatch.setenv("DGPOSE_HOME", str(home))
    return tmp_path


def ship(registry, model, name):
    card = {"name": name, "family": "semi_dgpose" if isinstance(model, SemiDGPose) else
            "conditional_dgpose", "config": model.get_config() | {"name": model.name},
            "input": {"ranges": {"images": [-1, 1], "pose_images": [-1, 1],
                                 "appearance_images": [-1, 1], "heatmaps": [0, 1]}},
            "training": {"command": f"dgpose train training/configs/{name}.json"}}
    card = zoo.write_entry(model, card, registry / "saved_models")
    (registry / "zoo" / f"{name}.json").write_text(json.dumps(card))
    return card


@pytest.fixture(scope="module")
def semi():
    keras.utils.set_random_seed(0)
    m = SemiDGPose(width=0.0625)
    m.build()
    return m


@pytest.fixture(scope="module")
def template(tmp_path_factory, semi):
    """One export of the tiny model (exports take seconds); tests copy it."""
    base = tmp_path_factory.mktemp("template")
    (base / "zoo").mkdir()
    (base / "saved_models").mkdir()
    ship(base, semi, "tiny_semi")
    return base


@pytest.fixture
def shipped(registry, template):
    shutil.copytree(template / "saved_models" / "tiny_semi", registry / "saved_models" / "tiny_semi")
    shutil.copy(template / "zoo" / "tiny_semi.json", registry / "zoo")
    return registry


def images(n=3, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 64, 64, 3)).astype("float32")


def test_list_info_and_suggestions(shipped):
    assert zoo.list_models() == ["tiny_semi"] and zoo.list_models("cond*") == []
    assert zoo.info("tiny_semi")["family"] == "semi_dgpose"
    with pytest.raises(zoo.UnknownModelError, match="did you mean tiny_semi"):
        zoo.info("tiny_sem")


def test_saved_model_matches_keras(shipped, semi):
    m = zoo.load("tiny_semi")
    assert "estimate_pose" in m.methods and "serving_default" in m.signatures
    x, x2 = images(), images(seed=1)
    np.testing.assert_allclose(m.reconstruct(x)["images"], semi.reconstruct(x), atol=1e-5)
    np.testing.assert_allclose(m.estimate_pose(images=x)["joints"], semi.estimate_pose(x),
                               atol=1e-5)
    np.testing.assert_allclose(m.transfer(x, x2)["images"], semi.transfer(x, x2), atol=1e-5)
    np.testing.assert_allclose(m.manipulate(x, np.full(3, 1.1, "float32"))["images"],
                               semi.manipulate(x, 1.1), atol=1e-5)
    s = m.sample(4, 7)
    assert s["images"].shape == (4, 64, 64, 3)
    np.testing.assert_allclose(s["images"], m.sample(4, 7)["images"])       # seeded
    np.testing.assert_allclose(s["images"], semi.generate(s["pose_vector"], s["appearance"]),
                               atol=1e-5)
    k = zoo.load("tiny_semi", format="keras")
    np.testing.assert_allclose(k.reconstruct(x), semi.reconstruct(x), atol=1e-6)


def test_inputs_are_checked_before_the_graph(shipped):
    m = zoo.load("tiny_semi")
    x = images()
    with pytest.raises(TypeError, match="float array.*uint8.*127.5"):
        m.reconstruct((x * 127).astype(np.uint8))
    with pytest.raises(ValueError, match=r"shape \(batch, 64, 64, 3\)"):
        m.reconstruct(x[:, :32])
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.reconstruct(bad)
    with pytest.raises(ValueError, match=r"lie in \[-1, 1\]"):
        m.reconstruct(x * 3)
    with pytest.raises(TypeError, match="needs images"):
        m.reconstruct()
    with pytest.raises(AttributeError, match="no attribute or signature 'fly'"):
        m.fly(x)


def test_flipped_byte_is_refused(shipped):
    data = next((shipped / "saved_models" / "tiny_semi" / "1" / "variables").glob("*.data-*"))
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(zoo.ChecksumError, match="checksum mismatch.*variables.data"):
        zoo.load("tiny_semi")
    weights = shipped / "saved_models" / "tiny_semi" / "keras-1.weights.h5"
    raw = bytearray(weights.read_bytes())
    raw[-100] ^= 0x01
    weights.write_bytes(bytes(raw))
    with pytest.raises(zoo.ChecksumError):
        zoo.load("tiny_semi", format="keras")


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/b", "..", "", "X", "a\\b"])
def test_names_cannot_reach_the_file_system(shipped, name):
    with pytest.raises(zoo.InvalidNameError):
        zoo.load(name)
    with pytest.raises(zoo.InvalidNameError):
        zoo.info(name)


def test_missing_or_half_written_folder(shipped):
    (shipped / "saved_models" / "tiny_semi" / "1" / "saved_model.pb").unlink()
    with pytest.raises(zoo.IncompleteModelError, match="missing 1/saved_model.pb"):
        zoo.load("tiny_semi")
    shutil.rmtree(shipped / "saved_models" / "tiny_semi")
    with pytest.raises(zoo.IncompleteModelError, match="no files of 'tiny_semi'"):
        zoo.load("tiny_semi")


def test_download_is_verified_and_atomic(shipped, monkeypatch):
    source = shipped / "mirror"
    shutil.move(shipped / "saved_models" / "tiny_semi", source)
    card_path = shipped / "zoo" / "tiny_semi.json"
    card = json.loads(card_path.read_text())
    card["url"] = source.as_uri()
    card_path.write_text(json.dumps(card))
    real = zoo.urllib.request.urlopen
    calls = []

    def flaky(url):                      # the connection drops after two files
        calls.append(url)
        if len(calls) > 2:
            raise OSError("connection reset")
        return real(url)

    monkeypatch.setattr(zoo.urllib.request, "urlopen", flaky)
    with pytest.raises(zoo.IncompleteModelError, match="could not fetch.*connection reset"):
        zoo.load("tiny_semi")
    home = shipped / "home" / "tiny_semi"
    assert not (home / "1").exists() and not list(home.glob(".partial-*"))
    # a corrupted mirror is refused and leaves nothing either
    monkeypatch.setattr(zoo.urllib.request, "urlopen", real)
    idx = source / "1" / "variables" / "variables.index"
    good = idx.read_bytes()
    idx.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(zoo.ChecksumError):
        zoo.load("tiny_semi")
    assert not (home / "1").exists()
    idx.write_bytes(good)
    m = zoo.load("tiny_semi")                              # now it downloads and loads
    assert (home / "1" / "saved_model.pb").exists() and m.reconstruct(images(1))


def test_read_only_cache_is_honoured(shipped):
    home = shipped / "home"
    home.mkdir()
    shutil.move(shipped / "saved_models" / "tiny_semi", home / "tiny_semi")
    for p in sorted(home.rglob("*"), reverse=True) + [home]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        assert zoo.load("tiny_semi").reconstruct(images(1))["images"].shape == (1, 64, 64, 3)
    finally:
        for p in [home, *home.rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


def test_entry_without_weights_says_how_to_train(registry):
    (registry / "zoo" / "paper_entry.json").write_text(json.dumps({
        "name": "paper_entry", "version": 1, "family": "conditional_dgpose",
        "config": {"width": 0.0625}, "files": {},
        "training": {"command": "dgpose train training/configs/paper_entry.json --data-dir D"}}))
    with pytest.raises(zoo.NoWeightsError,
                       match="(?s)dgpose train training/configs/paper_entry.json --data-dir D"
                             ".*dgpose zoo register"):
        zoo.load("paper_entry")
    untrained = zoo.load("paper_entry", format="keras", weights=None)
    assert isinstance(untrained, ConditionalDGPose) and untrained.width == 0.0625


def test_register_a_trained_run(registry, capsys):
    run = registry / "run"
    model = make_run(run, "conditional_dgpose", "my_cond", seed=1)
    assert cli.main(["zoo", "register", str(run)]) == 0
    assert "my_cond" in zoo.list_models()
    assert (registry / "home" / "cards" / "my_cond.json").exists()
    m = zoo.load("my_cond")
    x, h = images(2), np.random.default_rng(0).uniform(0, 1, (2, 64, 64, 24)).astype("float32")
    np.testing.assert_allclose(m.reconstruct(x, h)["images"], model.reconstruct(x, h), atol=1e-5)
    with pytest.raises(FileExistsError):
        zoo.register(run)
    assert zoo.register(run, overwrite=True)["name"] == "my_cond"
    assert cli.main(["zoo", "register", str(run), "--name", "../evil"]) == 2


def test_entry_without_keras_file_loads_keras_from_the_saved_model(registry):
    """A VUNet entry ships the SavedModel only: format="keras" rebuilds the model and takes the
    SavedModel's variables (same outputs); a corrupt variables file is refused by checksum."""
    import tensorflow as tf

    from dgpose_tf.models.vunet import VUNet

    keras.utils.set_random_seed(1)
    model = VUNet(image_size=32, box_factor=1, bottleneck_factor=1, n_filters=4, max_filters=8,
                  stickman="2d")
    model.build()
    card = {"name": "tiny_vunet", "family": "vunet",
            "config": {k: v for k, v in model.get_config().items()
                       if k not in ("name", "trainable", "dtype")}, "input": {"ranges": {}}}
    card = zoo.write_entry(model, card, registry / "saved_models", keras_file=False)
    (registry / "zoo" / "tiny_vunet.json").write_text(json.dumps(card))
    assert card["keras_weights"] == "saved_model"
    assert not any(f.startswith("keras-") for f in card["files"])
    again = zoo.load("tiny_vunet", format="keras")
    inp = (tf.random.normal((2, 16, 16, 24), seed=3), tf.random.normal((2, 32, 32, 3), seed=4))
    np.testing.assert_allclose(again(inp).numpy(), model(inp).numpy(), atol=1e-6)
    data = registry / "saved_models" / "tiny_vunet" / "1" / "variables" / \
        "variables.data-00000-of-00001"
    params = sum(int(np.prod(w.shape)) for w in model.weights)
    assert data.stat().st_size < 1.1 * 4 * params             # each variable stored once
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    data.write_bytes(bytes(raw))
    with pytest.raises(zoo.ChecksumError, match="variables.data"):
        zoo.load("tiny_vunet", format="keras")
