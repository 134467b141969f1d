"""The bad-input table: every public entry point given something wrong answers with a named
error that says what was wrong (and what to do), and leaves nothing half-written.

Each case is ``(entry point, input, expected error, message pattern, state check)``.
``python tests/test_bad_input.py`` prints the table as Markdown (README, Troubleshooting); a
test keeps the README's copy in step with this list.
"""

import errno
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED = "conditional_dgpose_synthetic"          # the smallest shipped SavedModel


class Case:
    def __init__(self, entry, given, call, error, match, after=None, state="nothing written"):
        self.entry, self.given, self.call = entry, given, call
        self.error, self.match, self.after, self.state = error, match, after, state

    @property
    def id(self):
        return f"{self.entry}: {self.given}"


CASES = []


def case(entry, given, error, match, state="nothing written", after=None):
    def wrap(call):
        CASES.append(Case(entry, given, call, error, match, after, state))
        return call
    return wrap


# --- helpers ------------------------------------------------------------------------------------
def cli(*args):
    """``dgpose …`` in-process: a named error is exit code 2 (3: stopped run) and a message."""
    from dgpose_tf import cli as c

    try:
        code = c.main([str(a) for a in args])
    except SystemExit as exc:                   # argparse's own errors (usage + exit 2)
        code = exc.code
    if code:
        raise CLIError(code)
    return code


class CLIError(Exception):
    pass


def config(tmp, **over):
    base = {"name": "tiny", "family": "conditional_dgpose", "model": {"width": 0.0625},
            "data": {"source": "synthetic", "seed": 1},
            "train": {"steps": 2, "steps_per_epoch": 2, "batch_size": 2},
            "seed": 0, "output": str(tmp / "run")}
    for key, value in over.items():
        section, _, sub = key.partition("__")
        if sub:
            base[section] = {**base[section], sub: value}
        elif value is None:
            base.pop(section)
        else:
            base[section] = value
    path = tmp / "config.json"
    path.write_text(json.dumps(base))
    return path


def no_run(tmp):
    assert not (tmp / "run" / "checkpoints").exists()


def zoo_load(*args, **kwargs):
    from dgpose_tf import zoo
    return zoo.load(*args, **kwargs)


@pytest.fixture(scope="module")
def shipped():
    import warnings

    from dgpose_tf import zoo
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zoo.load(SHIPPED)


def images(n=1, value=0.0, dtype="float32"):
    return np.full((n, 64, 64, 3), value, dtype)


def heatmaps(n=1, value=0.0):
    return np.full((n, 64, 64, 24), value, "float32")


# --- zoo.load and the zoo ----------------------------------------------------------------------
from dgpose_tf import zoo as Z  # noqa: E402

case("zoo.load", "a misspelt name", Z.UnknownModelError, "did you mean semi_dgpose_synthetic")(
    lambda tmp, m: zoo_load("semi_dgpose_synthtic"))
case("zoo.load", "a path as the name ('../x')", Z.InvalidNameError, "no paths")(
    lambda tmp, m: zoo_load("../x"))
case("zoo.load", "an unknown format", ValueError, "format must be")(
    lambda tmp, m: zoo_load(SHIPPED, format="onnx"))
case("zoo.load", "weights='imagenet'", ValueError, "weights must be")(
    lambda tmp, m: zoo_load(SHIPPED, weights="imagenet"))
case("zoo.load", "a version the card does not have", Z.NoWeightsError, "has version")(
    lambda tmp, m: zoo_load(SHIPPED, version=7))
case("zoo.load", "an entry with no shipped weights", Z.NoWeightsError, "Train them with")(
    lambda tmp, m: zoo_load("semi_dgpose_h36m"))
case("zoo.load", "path= an empty folder", Z.IncompleteModelError, "no files of")(
    lambda tmp, m: zoo_load(SHIPPED, path=tmp))
case("zoo.load", "untrained SavedModel (weights=None)", ValueError, "use format='keras'")(
    lambda tmp, m: zoo_load(SHIPPED, weights=None))
case("zoo.info", "an empty name", Z.InvalidNameError, "invalid model name")(
    lambda tmp, m: Z.info(""))
case("zoo.info", "a name that is not a string", Z.InvalidNameError, "invalid model name")(
    lambda tmp, m: Z.info(3))


def _copy_entry(tmp):
    copy = tmp / SHIPPED
    shutil.copytree(Z.BUNDLED_MODELS / SHIPPED, copy)
    return copy


def _corrupt(tmp, m):
    copy = _copy_entry(tmp)
    version = str(Z.info(SHIPPED)["version"])
    f = next((copy / version / "variables").glob("*.data-*"))
    data = bytearray(f.read_bytes())
    data[100] ^= 0xFF
    f.write_bytes(bytes(data))
    zoo_load(SHIPPED, path=copy)


case("zoo.load", "a model folder with a corrupted file", Z.ChecksumError, "checksum mismatch",
     "the folder is left as it was (delete it and load again)")(_corrupt)


def _incomplete(tmp, m):
    copy = _copy_entry(tmp)
    (copy / str(Z.info(SHIPPED)["version"]) / "saved_model.pb").unlink()
    zoo_load(SHIPPED, path=copy)


case("zoo.load", "a model folder missing a file", Z.IncompleteModelError, r"missing \d+/saved_model.pb")(
    _incomplete)


def _mirror(tmp, m, monkeypatch, url):
    monkeypatch.setenv("DGPOSE_HOME", str(tmp / "home"))
    monkeypatch.setenv("DGPOSE_MIRROR", url)
    monkeypatch.setattr(Z, "BUNDLED_MODELS", tmp / "no_bundle")
    zoo_load(SHIPPED)


def _no_partial(tmp):
    home = tmp / "home" / SHIPPED
    assert not home.exists() or not any(home.iterdir())


case("zoo.load", "$DGPOSE_MIRROR unreachable", Z.IncompleteModelError, "could not fetch",
     "no partial download kept", _no_partial)(
    lambda tmp, m: _mirror(tmp, m, m.monkeypatch, "http://127.0.0.1:9"))


def _wrong_mirror(tmp, m):
    served = tmp / "served" / SHIPPED
    served.mkdir(parents=True)
    for rel in Z.info(SHIPPED)["files"]:
        (served / rel).parent.mkdir(parents=True, exist_ok=True)
        (served / rel).write_bytes(b"not the model")
    _mirror(tmp, m, m.monkeypatch, (tmp / "served").as_uri())


case("zoo.load", "a mirror serving other bytes", Z.ChecksumError, "checksum mismatch",
     "no partial download kept", _no_partial)(_wrong_mirror)
case("zoo.register", "a folder that is not a training run", FileNotFoundError,
     "not a training run")(lambda tmp, m: Z.register(tmp))
case("dgpose zoo info", "an unknown entry", CLIError, "2")(
    lambda tmp, m: cli("zoo", "info", "nope_model"))

# --- ZooModel methods (the shipped Conditional-DGPose SavedModel) --------------------------------
case("ZooModel.reconstruct", "uint8 images", TypeError, r"must be a float array.*x / 127.5 - 1")(
    lambda tmp, m: m.shipped.reconstruct(images(dtype="uint8"), heatmaps()))
case("ZooModel.reconstruct", "images of the wrong size", ValueError, r"must have shape \(batch, 64")(
    lambda tmp, m: m.shipped.reconstruct(np.zeros((1, 32, 32, 3), "float32"), heatmaps()))
case("ZooModel.reconstruct", "images without a batch axis", ValueError, "must have shape")(
    lambda tmp, m: m.shipped.reconstruct(images()[0], heatmaps()))
case("ZooModel.reconstruct", "NaN in the images", ValueError, "contains NaN")(
    lambda tmp, m: m.shipped.reconstruct(images(value=np.nan), heatmaps()))
case("ZooModel.reconstruct", "images in [0, 255]", ValueError, r"must lie in \[-1.0, 1.0\]")(
    lambda tmp, m: m.shipped.reconstruct(images(value=200.0), heatmaps()))
case("ZooModel.reconstruct", "heatmaps above 1", ValueError, r"heatmaps values must lie in")(
    lambda tmp, m: m.shipped.reconstruct(images(), heatmaps(value=3.0)))
case("ZooModel.reconstruct", "too many inputs", TypeError, "takes 2 inputs")(
    lambda tmp, m: m.shipped.reconstruct(images(), heatmaps(), heatmaps()))
case("ZooModel.transfer", "a missing input", TypeError, "missing target_heatmaps")(
    lambda tmp, m: m.shipped.transfer(images(), heatmaps()))
case("ZooModel.transfer", "an unknown keyword", TypeError, "unknown pose")(
    lambda tmp, m: m.shipped.transfer(images(), heatmaps(), target_heatmaps=heatmaps(),
                                      pose=heatmaps()))
case("ZooModel.sample", "a float seed", TypeError, "seed must be an integer")(
    lambda tmp, m: m.shipped.sample(heatmaps(), 1.5))
case("ZooModel", "a signature it does not have", AttributeError, "no attribute or signature")(
    lambda tmp, m: m.shipped.estimate_pose(images()))

# --- the families' applications ------------------------------------------------------------------


def _semi(width=0.0625):
    from dgpose_tf.models.semi_dgpose import SemiDGPose
    return SemiDGPose(width=width)


case("SemiDGPose.estimate_pose", "128² images for a 64² model", ValueError, "64")(
    lambda tmp, m: _semi().estimate_pose(np.zeros((1, 128, 128, 3), "float32")))
case("SemiDGPose(...)", "an unknown constructor argument", ValueError,
     "Unrecognized keyword arguments.*widht")(
    lambda tmp, m: __import__("dgpose_tf.models.semi_dgpose", fromlist=["x"]).SemiDGPose(
        widht=0.5))


def _seq():
    from dgpose_tf.models.pose_sequence_aegan import PoseSequenceAEGAN
    return PoseSequenceAEGAN()


def _inpaint(joints, visible=None, **kw):
    from dgpose_tf.models.inpainting import inpaint
    return inpaint(_seq(), joints, visible, **kw)


from dgpose_tf.models.inpainting import InpaintingError  # noqa: E402

case("inpaint", "joints of the wrong joint count", InpaintingError, r"must be \(frames, 12, 2\)")(
    lambda tmp, m: _inpaint(np.zeros((30, 17, 2)), skeleton="alphapose12"))
case("inpaint", "no frames", InpaintingError, "no frames")(
    lambda tmp, m: _inpaint(np.zeros((0, 12, 2))))
case("inpaint", "every joint missing (NaN)", InpaintingError, "nothing to inpaint from")(
    lambda tmp, m: _inpaint(np.full((30, 12, 2), np.nan)))
case("inpaint", "string joints", InpaintingError, "joints must be numbers")(
    lambda tmp, m: _inpaint(np.full((30, 12, 2), "a")))
case("inpaint", "visible of another shape", InpaintingError, "visible must be")(
    lambda tmp, m: _inpaint(np.zeros((30, 12, 2)), np.ones((30, 11))))
case("inpaint", "shift 0", InpaintingError, "shift must be")(
    lambda tmp, m: _inpaint(np.ones((30, 12, 2)), shift=0))
case("inpaint", "mode='clean'", InpaintingError, "mode must be")(
    lambda tmp, m: _inpaint(np.ones((30, 12, 2)), mode="clean"))
case("inpaint", "an unknown skeleton", InpaintingError, "unknown skeleton")(
    lambda tmp, m: _inpaint(np.ones((30, 12, 2)), skeleton="kinect99"))
case("inpaint", "coordinates='y_down'", InpaintingError, "coordinates must be one of")(
    lambda tmp, m: _inpaint(np.ones((30, 12, 2)), coordinates="y_down"))
case("dgpose_tf.data.mocap.select_files", "a CMU evaluation clip (02_01.bvh)", ValueError,
     "CMU evaluation motion")(
    lambda tmp, m: (_write(tmp, "02_01.bvh", "HIERARCHY"),
                    __import__("dgpose_tf.data.mocap", fromlist=["x"]).select_files(
                        tmp, ["*.bvh"])))


def _mirrornet_bad(tmp, m):
    from dgpose_tf.models.mirrornet import CONFIGS, MirrorNet
    MirrorNet(CONFIGS["cpu64"]).estimate_pose(np.zeros((1, 32, 32, 3), "float32"))


case("MirrorNet.estimate_pose", "32² images for the 64² config", ValueError, "64")(_mirrornet_bad)


def _vunet_bad(tmp, m):
    from dgpose_tf.zoo import VUNetZooModel
    VUNetZooModel.pose_inputs(None, np.zeros((1, 33, 2)), skeleton="kinect99")


case("VUNet pose_inputs", "an unknown skeleton", KeyError, "unknown skeleton")(_vunet_bad)


def _vunet():
    from dgpose_tf.models.vunet import VUNet
    return VUNet(image_size=64, n_filters=8, max_filters=16)


case("VUNet.generate", "a 2-D stickman for a Three-Layer VUNet", ValueError,
     r"stickman must be \(N, 64, 64, 3\) for a 'three_layer'")(
    lambda tmp, m: _vunet().generate(np.zeros((1, 64, 64, 6), "float32")))
case("VUNet.appearance", "crops without the 8 parts", ValueError, "part crops must be")(
    lambda tmp, m: _vunet().appearance(np.zeros((1, 32, 32, 3), "float32")))
case("VUNet.prepare", "128² images for a 64² VUNet", ValueError, "images must be")(
    lambda tmp, m: _vunet().prepare(np.zeros((1, 128, 128, 3), "float32"),
                                    np.zeros((1, 13, 2), "float32"), np.ones((1, 13), bool)))


def _semi_stream():
    from dgpose_tf.models.semi_dgpose import SemiDGPose
    return SemiDGPose(width=0.0625, background_stream=True)


def _conditional():
    from dgpose_tf.models.conditional_dgpose import ConditionalDGPose
    return ConditionalDGPose(width=0.0625)


case("ConditionalDGPose.transfer", "16 heatmap channels instead of 24", ValueError,
     "takes heatmaps of shape")(
    lambda tmp, m: _conditional().transfer(images(), heatmaps(), heatmaps()[..., :16]))
case("ConditionalDGPose.reconstruct", "2 images but 1 heatmap", ValueError,
     "2 images but 1 heatmaps")(
    lambda tmp, m: _conditional().reconstruct(images(2), heatmaps(1)))

# --- dgpose train --------------------------------------------------------------------------------
from dgpose_tf import fit as F  # noqa: E402

case("dgpose train", "a config file that does not exist", FileNotFoundError,
     "training config not found")(lambda tmp, m: F.load_config(tmp / "missing.json"))
case("dgpose train", "a config that is not JSON", ValueError, "not valid JSON")(
    lambda tmp, m: (tmp / "c.json").write_text("{nope") and F.load_config(tmp / "c.json"))
case("dgpose train", "a JSON list", ValueError, "must hold a JSON object")(
    lambda tmp, m: (tmp / "c.json").write_text("[]") and F.load_config(tmp / "c.json"))
case("dgpose train", "no 'train' section", ValueError, "lacks train", after=no_run)(
    lambda tmp, m: F.run_config(config(tmp, train=None)))
case("dgpose train", "an unknown family", ValueError, "unknown family 'gan'", after=no_run)(
    lambda tmp, m: F.run_config(config(tmp, family="gan")))
case("dgpose train", "a misspelt train key (setps)", ValueError,
     "unknown key train.setps; did you mean train.steps", after=no_run)(
    lambda tmp, m: F.run_config(config(tmp, train__setps=3)))
case("dgpose train", "a misspelt top-level key", ValueError, "unknown key ouput; did you mean "
     "output", after=no_run)(lambda tmp, m: F.run_config(config(tmp, ouput="x")))
case("dgpose train", "train.steps 'ten'", ValueError, "train.steps must be a positive integer",
     after=no_run)(lambda tmp, m: F.run_config(config(tmp, train__steps="ten")))
case("dgpose train", "train.steps 0", ValueError, "train.steps must be a positive integer",
     after=no_run)(lambda tmp, m: F.run_config(config(tmp, train__steps=0)))
case("dgpose train", "train.batch_size 2.5", ValueError, "batch_size must be a positive integer",
     after=no_run)(lambda tmp, m: F.run_config(config(tmp, train__batch_size=2.5)))
case("dgpose train", "a negative learning rate", ValueError, "learning_rate must be a positive",
     after=no_run)(lambda tmp, m: F.run_config(config(tmp, train__learning_rate=-1e-4)))
case("dgpose train", "pose_consistency without a frozen encoder", ValueError,
     "train.pose_consistency is a Semi-DGPose option for a frozen encoder", after=no_run)(
    lambda tmp, m: F.run_config(config(tmp, train__pose_consistency=10.0)))
case("dgpose train", "beta_1 of 1", ValueError, "beta_1 must be below 1", after=no_run)(
    lambda tmp, m: F.run_config(config(tmp, train__beta_1=1.0)))
case("dgpose train", "deterministic 'yes'", ValueError, "deterministic must be true or false",
     after=no_run)(lambda tmp, m: F.run_config(config(tmp, train__deterministic="yes")))
case("dgpose train", "precision 'fp16'", ValueError, "precision must be 'float32'",
     after=no_run)(lambda tmp, m: F.run_config(config(tmp, train__precision="fp16")))
case("dgpose train", "train.freeze naming no sub-network", ValueError,
     "train.freeze must be a list of 'encoder', 'decoder', 'discriminator'", after=no_run)(
    lambda tmp, m: F.run_config(config(tmp, train__freeze=["trunk"])))
case("SemiDGPose.generate", "the background stream without the source pose", ValueError,
     "source_pose")(
    lambda tmp, m: _semi_stream().generate(np.zeros((1, 48), "float32"),
                                           np.zeros((1, 100), "float32"), images=images(1)))
case("dgpose train", "seed '0' (a string)", ValueError, "seed must be a int", after=no_run)(
    lambda tmp, m: F.run_config(config(tmp, seed="0")))
case("dgpose train", "an unknown data source", ValueError, "data.source must be one of",
     after=no_run)(lambda tmp, m: F.run_config(config(tmp, data={"source": "imagenet"})))
case("dgpose train", "a real data set with no --data-dir", ValueError, "data.dir is not set")(
    lambda tmp, m: F.run_config(config(tmp, data={"source": "h36m"})))
case("dgpose train", "--data-dir that does not exist", FileNotFoundError,
     "data directory not found")(
    lambda tmp, m: F.run_config(config(tmp, data={"source": "h36m"}), data_dir=tmp / "none"))
case("dgpose train", "a shard folder that was never finished", FileNotFoundError,
     "not a finished shard directory")(
    lambda tmp, m: F.run_config(config(tmp, data={"source": "shards", "dir": str(tmp)})))
case("dgpose train", "an output folder that cannot be written", PermissionError,
     "cannot write the run folder")(
    lambda tmp, m: (tmp / "file").write_text("") or
    F.run_config(config(tmp), output=tmp / "file" / "run"))


def _other_model(tmp, m):
    (tmp / "run").mkdir()
    (tmp / "run" / "config.json").write_text(json.dumps(
        {"family": "conditional_dgpose", "model": {"width": 0.125}}))
    F.run_config(config(tmp))


case("dgpose train", "a run folder of another model", ValueError,
     "holds a run of another model", "the other run is untouched",
     lambda tmp: json.loads((tmp / "run" / "config.json").read_text())["model"]["width"] == 0.125
     or pytest.fail("run overwritten"))(_other_model)
def _old_run(tmp, m):
    (tmp / "run" / "backup").mkdir(parents=True)
    (tmp / "run" / "config.json").write_text(json.dumps(
        {"family": "conditional_dgpose", "model": {"width": 0.0625}}))
    F.run_config(config(tmp))


case("dgpose train", "a run folder written before exact resume", ValueError,
     "cannot be resumed exactly. Pass --restart", "the old run is untouched",
     lambda tmp: (tmp / "run" / "backup").is_dir() or pytest.fail("backup removed"))(_old_run)
case("dgpose train", "--workers without --strategy multiworker", ValueError,
     "need --strategy multiworker", after=no_run)(
    lambda tmp, m: F.run_config(config(tmp), workers="a:1,b:2"))
case("dgpose train", "--workers entries without a port", ValueError, "HOST:PORT",
     after=no_run)(lambda tmp, m: F.run_config(config(tmp), strategy="multiworker",
                                               workers="hosta,hostb", worker_index=0))
case("dgpose train", "--worker-index out of range", ValueError, "must be one of 0…1",
     after=no_run)(lambda tmp, m: F.run_config(config(tmp), strategy="multiworker",
                                               workers="a:1,b:2", worker_index=2))


def _no_cluster(tmp, m):
    m.monkeypatch.delenv("TF_CONFIG", raising=False)
    F.run_config(config(tmp), strategy="multiworker")


case("dgpose train", "multiworker with no cluster given", ValueError, "needs --workers",
     after=no_run)(_no_cluster)


def _bad_tf_config(tmp, m):
    m.monkeypatch.setenv("TF_CONFIG", "{worker: 1}")
    F.run_config(config(tmp), strategy="multiworker")


case("dgpose train", "a TF_CONFIG that is not JSON", ValueError, "TF_CONFIG is not",
     after=no_run)(_bad_tf_config)
case("dgpose train", "--on-nan ignore", CLIError, "2")(
    lambda tmp, m: cli("train", config(tmp), "--on-nan", "ignore"))
case("dgpose train", "--strategy tpu", CLIError, "2")(
    lambda tmp, m: cli("train", config(tmp), "--strategy", "tpu"))
case("dgpose train", "a stage-2 config whose `train.init_weights` is missing (every family)",
     FileNotFoundError, "not found: a later stage", after=no_run)(
    lambda tmp, m: F.run_config(config(tmp, train__init_weights=str(tmp / "stage1.weights.h5"))))
case("training/fit_vunet.py", "a config of another family", SystemExit, "2")(
    lambda tmp, m: F.script_main("vunet", [str(config(tmp))]))

# --- dgpose evaluate / export ----------------------------------------------------------------------
case("dgpose evaluate", "a model that is neither an entry nor a run", CLIError, "2")(
    lambda tmp, m: cli("evaluate", "no_such_model", "--n", 4, "--out", tmp / "e"))
case("dgpose evaluate", "--bvh files that do not exist", CLIError, "2")(
    lambda tmp, m: cli("evaluate", "pose_sequence_aegan_synthetic", "--bvh", tmp / "x.bvh",
                       "--out", tmp / "e"))
case("dgpose evaluate", "an AE-GAN without --bvh", CLIError, "2")(
    lambda tmp, m: cli("evaluate", "pose_sequence_aegan_synthetic", "--out", tmp / "e"))
case("dgpose export", "an unknown entry", CLIError, "2")(
    lambda tmp, m: cli("export", "no_such_model", "--to", tmp / "x" / "1"))
case("dgpose export", "a run folder without weights", CLIError, "2")(
    lambda tmp, m: ((tmp / "config.json").write_text(json.dumps(
        {"family": "conditional_dgpose", "model": {}})),
        cli("export", tmp, "--to", tmp / "x" / "1")))

# --- dataset loaders ---------------------------------------------------------------------------------


def _write(tmp, name, content):
    path = tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


case("load_lsp", "a truncated joints.mat", ValueError, "joints.mat is not a readable LSP")(
    lambda tmp, m: __import__("dgpose_tf.data.lsp", fromlist=["x"]).load_lsp(
        _write(tmp, "joints.mat", b"MATLAB 5.0 MAT-file, truncated")))
case("load_lsp", "a missing joints.mat", FileNotFoundError, "joints.mat")(
    lambda tmp, m: __import__("dgpose_tf.data.lsp", fromlist=["x"]).load_lsp(tmp / "joints.mat"))
case("load_mpii_json", "JSON cut off halfway", ValueError, "mpii.json")(
    lambda tmp, m: __import__("dgpose_tf.data.mpii", fromlist=["x"]).load_mpii_json(
        _write(tmp, "mpii.json", '[{"image": "a.jpg", "joints": [[1, 2')))
case("load_coco", "a COCO file without 'annotations'", ValueError, "annotations")(
    lambda tmp, m: __import__("dgpose_tf.data.coco", fromlist=["x"]).load_coco(
        _write(tmp, "coco.json", '{"images": []}')))
case("load_deepfashion_annotations", "a CSV with a short row", ValueError, "pose.csv")(
    lambda tmp, m: __import__("dgpose_tf.data.deepfashion", fromlist=["x"])
    .load_deepfashion_annotations(_write(tmp, "pose.csv", "name:keypoints_y:keypoints_x\n"
                                                          "a.jpg:[1, 2]\n")))
case("load_h36m_npz", "an npz without the 2-D joints", ValueError, "h36m.npz")(
    lambda tmp, m: (np.savez(tmp / "h36m.npz", imgname=np.array(["a.jpg"])), __import__(
        "dgpose_tf.data.h36m", fromlist=["x"]).load_h36m_npz(tmp / "h36m.npz")))
case("load_h36m_npz", "a corrupt npz", ValueError, "h36m.npz")(
    lambda tmp, m: __import__("dgpose_tf.data.h36m", fromlist=["x"]).load_h36m_npz(
        _write(tmp, "h36m.npz", b"PK\x03\x04 not really a zip")))
case("load_bvh", "a BVH cut off in its hierarchy", ValueError, "cut.bvh")(
    lambda tmp, m: __import__("dgpose_tf.data.bvh", fromlist=["x"]).load_bvh(
        _write(tmp, "cut.bvh", "HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n")))
case("load_label_file", "a label file with a wrong row", ValueError, "labels.txt")(
    lambda tmp, m: __import__("dgpose_tf.data.depth_labels", fromlist=["x"]).load_label_file(
        _write(tmp, "labels.txt", "a.jpg 1 0 -1\n")))
case("records_dataset", "a record whose image is missing", FileNotFoundError,
     "1 of 1 images are missing, e.g. .*missing.jpg")(
    lambda tmp, m: _records_missing_image(tmp))


def _records_missing_image(tmp):
    from dgpose_tf.data.pipeline import records_dataset
    from dgpose_tf.data.records import PoseRecord

    rec = PoseRecord(image=str(tmp / "missing.jpg"), joints=np.zeros((14, 2), "float32"),
                     visible=np.ones(14, bool), skeleton="lsp14")
    next(iter(records_dataset([rec], batch_size=1, size=64)))


# --- shard writer and reader ----------------------------------------------------------------------


def _disk_full(tmp, m):
    import tensorflow as tf

    from dgpose_tf.data import shards

    real = tf.io.TFRecordWriter
    written = []

    class Full:
        def __init__(self, path):
            self.inner = real(path)

        def write(self, record):
            written.append(1)
            if len(written) > 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.inner.write(record)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.inner.close()

    m.monkeypatch.setattr(tf.io, "TFRecordWriter", Full)
    shards.write_synthetic(tmp / "shards", 4, shard_size=2, progress=False)


def _one_shard_kept(tmp):
    names = sorted(p.name for p in (tmp / "shards").iterdir())
    assert names == ["shard-00000-of-00002.tfrecord"], names


case("dgpose data synth", "the disk fills up in the second shard", OSError,
     "No space left on device.*1 finished shard", "finished shards kept, no .partial file, no "
     "meta.json", _one_shard_kept)(_disk_full)
case("dgpose data synth", "n = 0", ValueError, "n must be positive")(
    lambda tmp, m: __import__("dgpose_tf.data.shards", fromlist=["x"]).write_synthetic(
        tmp / "s", 0, progress=False))


def _interrupted(tmp, m):
    from dgpose_tf.data import shards
    (tmp / "s").mkdir()
    (tmp / "s" / "shard-00000-of-00001.tfrecord.partial").write_bytes(b"x")
    shards.read_shards(tmp / "s")


case("read_shards", "a folder an interrupted write left", FileNotFoundError,
     "interrupted write left .partial")(_interrupted)


def _existing_shards(tmp, m):
    from dgpose_tf.data import shards
    (tmp / "s").mkdir()
    (tmp / "s" / "meta.json").write_text("{}")
    shards.write_synthetic(tmp / "s", 2, progress=False)


case("dgpose data synth", "--out holding a finished data set", FileExistsError,
     "already holds a data set", "the data set is untouched")(_existing_shards)

# --- dgpose inpaint ---------------------------------------------------------------------------------
case("dgpose inpaint", "an input file that does not exist", CLIError, "2")(
    lambda tmp, m: cli("inpaint", tmp / "none.json", "--out", tmp / "o.json"))
case("dgpose inpaint", "AlphaPose JSON that is not JSON", CLIError, "2",
     "no output written", lambda tmp: not (tmp / "o.json").exists() or pytest.fail("written"))(
    lambda tmp, m: cli("inpaint", _write(tmp, "alphapose-results.json", "[{"), "--out",
                       tmp / "o.json"))
case("dgpose inpaint", "a track id that is not in the file", CLIError, "2")(
    lambda tmp, m: cli("inpaint", _write(tmp, "alphapose-results.json", json.dumps(
        [{"image_id": "0.jpg", "idx": 1, "keypoints": [1.0] * 51, "score": 1.0}])),
        "--out", tmp / "o.json", "--track", 5))
case("dgpose inpaint", "an npz without joints", CLIError, "2")(
    lambda tmp, m: (np.savez(tmp / "d.npz", other=np.zeros(3)),
                    cli("inpaint", tmp / "d.npz", "--out", tmp / "o.npz")))
case("dgpose inpaint", "--format xml", CLIError, "2")(
    lambda tmp, m: cli("inpaint", tmp / "x", "--out", tmp / "o", "--format", "xml"))
case("dgpose inpaint", "--coordinates y_down", CLIError, "2")(
    lambda tmp, m: cli("inpaint", tmp / "x", "--out", tmp / "o", "--coordinates", "y_down"))


class _Helpers:
    """What a case may need besides its folder: pytest's monkeypatch and the loaded entry."""

    def __init__(self, monkeypatch, request):
        self.monkeypatch, self._request = monkeypatch, request

    @property
    def shipped(self):
        return self._request.getfixturevalue("shipped")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(case, tmp_path, monkeypatch, request, capsys):
    helpers = _Helpers(monkeypatch, request)
    before = sorted(p.name for p in Path.cwd().iterdir())
    with pytest.raises(case.error) as info:
        case.call(tmp_path, helpers)
    text = str(info.value) if case.error is not CLIError else capsys.readouterr().err
    if case.error is CLIError or case.error is SystemExit:
        assert str(info.value.args[0] if case.error is CLIError else info.value.code) == \
            case.match
        if case.error is CLIError:
            assert "error" in text or "usage" in text, text
    else:
        import re
        assert re.search(case.match, text), f"{text!r} does not say {case.match!r}"
    if case.after:
        case.after(tmp_path)
    assert sorted(p.name for p in Path.cwd().iterdir()) == before   # nothing left behind


def test_enough_cases_and_the_readme_table_matches():
    assert len(CASES) >= 60, len(CASES)
    assert len({c.id for c in CASES}) == len(CASES)
    readme = (REPO / "README.md").read_text()
    table = markdown()
    assert table in readme, "README's bad-input table is out of date: python tests/test_bad_input.py"


def markdown():
    rows = ["| entry point | input | error | afterwards |", "| --- | --- | --- | --- |"]
    for c in CASES:
        err = {"CLIError": "exit code 2, message on stderr",
               "SystemExit": "usage message, exit code 2"}.get(c.error.__name__,
                                                               c.error.__name__)
        if c.error not in (CLIError, SystemExit):
            err += f": “{c.match.replace('|', '/')}”".replace("\\", "")
        rows.append(f"| `{c.entry}` | {c.given} | {err} | {c.state} |")
    return "\n".join(rows) + f"\n\n{len(CASES)} cases."


if __name__ == "__main__":
    sys.stdout.write(markdown() + "\n")
