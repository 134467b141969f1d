"""The shipped zoo entries: every signature through tf.saved_model.load and saved_model_cli
agrees with the Keras model; the demo runs; a real TF Serving runs when it is installed."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from dgpose_tf import cli, zoo
from dgpose_tf.data.pipeline import synthetic_dataset

SHIPPED = [n for n in zoo.list_models() if zoo.info(n).get("files")]
PAPER_ENTRIES = {"semi_dgpose_h36m", "semi_dgpose_deepfashion", "conditional_dgpose_chictopiaplus",
                 "conditional_dgpose_deepfashion"}


def test_every_entry_is_listed():
    names = set(zoo.list_models())
    assert {"semi_dgpose_synthetic", "semi_dgpose_synthetic_25pct",
            "conditional_dgpose_synthetic"} <= set(SHIPPED)
    assert PAPER_ENTRIES <= names
    out = subprocess.run([sys.executable, "-c", "import dgpose_tf as d; print(d.zoo.list_models())"],
                         capture_output=True, text=True, check=True).stdout
    assert all(n in out for n in names)


@pytest.fixture(scope="module")
def batch():
    return {k: v.numpy() for k, v in next(iter(synthetic_dataset(4, 4, seed=31))).items()}


@pytest.fixture(scope="module")
def people():
    """Stick-joint inputs of the VUNet entries: 4 synthetic test pairs at 64²."""
    from dgpose_tf.evaluate.vunet import test_pairs

    d = test_pairs(4, 4321, 64)
    f = lambda x: (x.astype("float32") / 127.5 - 1.0)
    return {"image": f(d["a_image"]), "joints": d["a_joints"],
            "valid": d["a_valid"].astype("float32"), "labels": d["a_labels"].astype("int32"),
            "target_joints": d["b_joints"], "target_valid": d["b_valid"].astype("float32"),
            "target_labels": d["b_labels"].astype("int32"), "seed": np.int32(5)}


@pytest.fixture(scope="module")
def mirror_inputs(batch):
    """MirrorNet's inputs: the batch's images and 16 joints (MPII order, the paper's rule)."""
    from dgpose_tf.models.mirrornet_curriculum import people

    p = people(4, seed=4321)
    return {"images": batch["image"], "joints": p["joints"],
            "visible": p["labelled"].astype("float32")}


def example_inputs(spec, batch, people=None):
    rng = np.random.default_rng(0)
    name = spec.name
    if people is not None:
        return people[name]
    if name in ("poses", "observed", "joints", "latent", "shift", "steps", "fill",
                "learning_rate", "prior_weight", "average_seen", "bridge"):
        # a sequence of 30 frames for inpaint (joints (T, 28, 2), observed (T, 28)); a batch of 4
        # windows for encode / score
        t = 30 if name == "joints" or (name == "observed" and spec.shape.rank == 2) else 4
        shape = [t if d is None else d for d in spec.shape]
        return {"poses": lambda: rng.uniform(-0.5, 0.5, shape).astype("float32"),
                "joints": lambda: rng.uniform(100, 300, shape).astype("float32"),
                "observed": lambda: (rng.random(shape) < 0.6).astype("float32"),
                "latent": lambda: rng.standard_normal(shape).astype("float32"),
                "shift": lambda: np.int32(8), "steps": lambda: np.int32(3),
                "fill": lambda: np.bool_(True), "learning_rate": lambda: np.float32(0.1),
                "prior_weight": lambda: np.float32(0.5),
                "average_seen": lambda: np.bool_(True), "bridge": lambda: np.bool_(True)}[name]()
    return {"images": batch["image"], "pose_images": batch["image"],
            "appearance_images": batch["image"][::-1].copy(), "heatmaps": batch["heatmaps"],
            "target_heatmaps": batch["heatmaps"][::-1].copy(), "pose_vector": batch["pose_vector"],
            "appearance": rng.standard_normal((4, 100)).astype("float32"),
            "scale": np.array([0.8, 0.9, 1.1, 1.2], "float32"), "n": np.int32(4),
            "seed": np.int32(7)}[name]


CLI_ENTRY = "conditional_dgpose_synthetic"


@pytest.mark.parametrize("name", SHIPPED)
def test_signatures_match_keras(name, batch, people, mirror_inputs, tmp_path):
    card = zoo.info(name)
    people = {"vunet": people, "mirrornet": mirror_inputs}.get(card["family"])
    size = (card["input"].get("size") or [64])[0]
    if card["family"] == "mirrornet" and size != 64:         # a real-photo entry's input size
        import tensorflow as tf
        people = {**people, "images": tf.image.resize(people["images"], (size, size)).numpy()}
    saved = zoo.load(name)
    keras_model = zoo.load(name, format="keras")
    from dgpose_tf.serving import endpoints_of
    endpoints = endpoints_of(keras_model)
    assert set(saved.signatures) == set(endpoints) | {"serving_default"}
    directory = saved.directory
    for sig, (fn, specs) in endpoints.items():
        inputs = {s.name: example_inputs(s, batch, people) for s in specs}
        want = {k: np.asarray(v) for k, v in fn(*inputs.values()).items()}
        got = saved._run(sig, **inputs)
        assert set(got) == set(want), sig
        # the latent descent iterates Adam in float32: eager and graph op orders differ by
        # rounding that the 200 steps carry on — 1.5e-4 relative (0.03 px at 200 px) seen on a
        # CPU with AVX-512/AMX kernels, less elsewhere; 5e-4 is 0.1 px at 200 px
        rtol = 5e-4 if sig == "inpaint" else 1e-7
        # graph and eager float32 op orders round differently: ~1e-5 in the VUNet (~60
        # convolutions deep) and in the width-1/4 DGPose decoders (5×5 convolutions summing
        # ~2,000 products; 1.9e-5 seen); 1e-4 on [−1, 1] images is 1/80 of a uint8 level, and
        # wrong weights or a wrong input order miss by orders of magnitude more
        atol = 1e-4 if card["family"] in ("vunet", "semi_dgpose", "conditional_dgpose") else 1e-5
        for k in want:
            np.testing.assert_allclose(got[k], want[k], atol=atol, rtol=rtol,
                                       err_msg=f"{name}.{sig}.{k}")
        # the same through saved_model_cli, in a fresh process: the default signature of one
        # entry (each call loads TensorFlow and the SavedModel anew, ~6 s; the export path is
        # the same for every entry)
        if sig != keras_model.SERVING_DEFAULT or name != CLI_ENTRY:
            continue
        args = []
        for k, v in inputs.items():
            np.save(tmp_path / f"{k}.npy", np.asarray(v))
            args.append(f"{k}={tmp_path / f'{k}.npy'}")
        out_dir = tmp_path / f"cli_{sig}"
        cmd = [shutil.which("saved_model_cli") or "saved_model_cli", "run", "--dir",
               str(directory), "--tag_set", "serve", "--signature_def", sig,
               "--outdir", str(out_dir), "--inputs", ";".join(args)]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        for k in want:
            np.testing.assert_allclose(np.load(out_dir / f"{k}.npy"), want[k], atol=atol,
                                       rtol=rtol, err_msg=f"saved_model_cli {name}.{sig}.{k}")
    assert card["signatures"]["serving_default"] == card["signatures"][keras_model.SERVING_DEFAULT]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_files_are_small_and_verified(name, tmp_path):
    card = zoo.info(name)
    # entries exported with the model tracked hold every variable twice in the SavedModel plus
    # the Keras file: ~12 bytes per parameter (42 MB for the AE-GAN's 3.4 M parameters; the
    # VAE-GAN files also carry their discriminators); an entry without a Keras file
    # (keras_weights "saved_model") holds each variable once: ~4 bytes per parameter
    # (the graph, saved_model.pb, is ~1.4 MB whatever the size: not counted)
    params = sum(int(np.prod(v.shape)) for v in zoo.load(name, format="keras").weights)
    per_parameter = 5.0 if card.get("keras_weights") == "saved_model" else 12.5
    assert sum(f["size"] for path, f in card["files"].items()
               if not path.endswith("saved_model.pb")) <= per_parameter * params
    copy = tmp_path / name
    shutil.copytree(zoo.BUNDLED_MODELS / name, copy)
    # every file fits the repository (variables are written in shards of ≤ 16 MiB)
    assert max(f["size"] for f in card["files"].values()) <= 20_000_000
    rel = f"keras-{card['version']}.weights.h5"
    if card.get("keras_weights") == "saved_model":        # the Keras model reads the SavedModel
        rel = f"{card['version']}/variables/variables.data-00000-of-"
        rel = next(p for p in card["files"] if p.startswith(rel))
    weights = copy / rel
    raw = bytearray(weights.read_bytes())
    raw[len(raw) // 3] ^= 0x10
    weights.write_bytes(bytes(raw))
    with pytest.raises(zoo.ChecksumError, match=rel.split("/")[-1]):
        zoo.load(name, format="keras", path=copy)
    assert "command" in card["metrics"] and \
        {"synthetic_test", "synthetic_test_motion", "validation_motion", "lspet_test"} & \
        set(card["metrics"])


def test_demo_runs_on_the_shipped_models(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert cli.main(["demo", "--n", "12", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert out.stat().st_size > 10_000 and "PCK@0.5" in text and "transfer SSIM" in text
    if zoo.info("vunet25d_synthetic").get("files"):
        assert (tmp_path / "demo_vunet.png").stat().st_size > 10_000 and "2.5D VUNet" in text
    if zoo.info("mirrornet_synthetic").get("files"):
        assert (tmp_path / "demo_mirrornet.png").stat().st_size > 10_000 and "MirrorNet" in text
    if any(zoo.info(n).get("files") and zoo.info(n)["dataset"].get("protocol") == "lspet_photos"
           for n in zoo.list_models()):
        assert (tmp_path / "demo_photos.png").stat().st_size > 10_000
        assert "real photos" in text and "astronaut.jpg" in text


@pytest.mark.skipif(shutil.which("tensorflow_model_server") is None,
                    reason="tensorflow_model_server is not installed")
def test_real_tf_serving(tmp_path, batch):
    import socket
    import time

    from dgpose_tf.serving import models_config, rest_predict

    config = tmp_path / "models.config"
    config.write_text(models_config(zoo.BUNDLED_MODELS, SHIPPED,
                                    container_base=str(zoo.BUNDLED_MODELS)))
    with socket.socket() as s:
        s.bind(("", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(["tensorflow_model_server", f"--rest_api_port={port}", "--port=0",
                               f"--model_config_file={config}"])
    try:
        keras_model = zoo.load("semi_dgpose_synthetic", format="keras")
        for _ in range(60):
            try:
                out = rest_predict("semi_dgpose_synthetic", "estimate_pose",
                                   {"images": batch["image"]}, f"http://localhost:{port}")
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("TF Serving did not come up")
        np.testing.assert_allclose(out["joints"], keras_model.estimate_pose(batch["image"]),
                                   atol=1e-4)
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_cards_say_whether_they_beat_the_trivial_answers(name):
    """The card's flag agrees with its recorded evaluation (re-judged here from the recorded
    model figures and trivial answers), and an entry below them is announced on load."""
    from dgpose_tf.evaluate import pose_sequence_aegan as evaluate_sequences
    from dgpose_tf.evaluate.dgpose import below_trivial

    card = zoo.info(name)
    if "lspet_test" in card["metrics"]:                      # real photos: the mean-pose floor
        from dgpose_tf.evaluate.photos import FIGURES
        t = card["metrics"]["lspet_test"]
        below = [f for f in FIGURES if t["model"][f] <= t["mean_pose_floor"][f]]
        heavy = t["anchors"].get("blazepose_heavy", {})
        assert card.get("below_anchor", []) == [f for f in FIGURES if heavy.get(f) is not None
                                                and t["model"][f] < heavy[f]]
        assert card.get("below_trivial", []) == below
        return
    if card["family"] == "pose_sequence_aegan":
        metrics = card["metrics"]
        figures = metrics.get("synthetic_test_motion") or metrics["validation_motion"]
        assert figures["below_trivial"] == evaluate_sequences.below_trivial(figures["results"])
    elif card["family"] == "vunet":
        from dgpose_tf.evaluate import vunet as evaluate_vunet

        figures = card["metrics"]["synthetic_test"]
        assert figures["below_trivial"] == evaluate_vunet.below_trivial(figures)
    elif card["family"] == "mirrornet":
        from dgpose_tf.evaluate import mirrornet as evaluate_mirrornet

        figures = card["metrics"]["synthetic_test"]
        assert figures["below_trivial"] == evaluate_mirrornet.below_trivial(figures)
    else:
        figures = card["metrics"]["synthetic_test"]
        assert figures["below_trivial"] == below_trivial(figures)
    assert card.get("below_trivial", []) == figures["below_trivial"]
    if card.get("below_trivial"):
        with pytest.warns(UserWarning, match="experimental"):
            zoo.load(name, format="keras")


def test_sequence_entry_inpaint_takes_the_cards_candidate_rule():
    from dgpose_tf.models.inpainting import InpaintingError

    name = next(n for n in SHIPPED if zoo.info(n)["family"] == "pose_sequence_aegan")
    model = zoo.load(name)
    rule = model.card["inpainting"].get("seen", "closest")
    rng = np.random.default_rng(3)
    joints = rng.uniform(100, 300, (40, 12, 2)).astype("float32")
    run = lambda **k: model.inpaint(joints, skeleton="alphapose12", shift=8, steps=2,
                                    mode="refine", **k)["joints"]
    default, closest, mean = run(), run(seen="closest"), run(seen="mean")
    np.testing.assert_array_equal(default, {"closest": closest, "mean": mean}[rule])
    # frames 8–23 lie in two or three windows: the rules differ there, not in frames 0–7
    np.testing.assert_allclose(closest[:8], mean[:8], rtol=1e-5, atol=1e-3)
    assert np.abs(closest[8:24] - mean[8:24]).max() > 1e-2
    with pytest.raises(InpaintingError, match="seen"):
        run(seen="median")
