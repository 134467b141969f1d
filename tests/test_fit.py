import json
from pathlib import Path

import numpy as np
import pytest

from dgpose_tf import cli, fit

REPO = Path(__file__).resolve().parents[1]


def tiny_config(tmp_path, family="semi_dgpose", **data):
    """A config in a folder of its own: no fit script beside it (the package has the logic)."""
    folder = tmp_path / "elsewhere"
    (folder / "configs").mkdir(parents=True)
    config = {"name": "tiny", "family": family, "model": {"width": 0.0625},
              "data": {"source": "synthetic", "seed": 1, "fraction": 0.5, **data},
              "mapper": {"steps": 2, "batch_size": 4},
              "pose_warmup": {"steps": 2, "batch_size": 4},
              "train": {"steps": 4, "steps_per_epoch": 4, "batch_size": 4, "eval_every": 2,
                        "eval_n": 4, "kl_warmup": 3, "beta_1": 0.5},
              "seed": 0, "output": str(tmp_path / "run")}
    path = folder / "configs" / "tiny.json"
    path.write_text(json.dumps(config))
    return path


def test_dgpose_train_runs_the_family_from_the_package(tmp_path):
    path = tiny_config(tmp_path)
    config = json.loads(path.read_text())      # the Mapper continued by a BCE phase
    config["mapper"]["then"] = [{"loss": "bce", "steps": 2, "learning_rate": 1e-3}]
    path.write_text(json.dumps(config))
    assert cli.main(["train", str(path)]) == 0
    run = tmp_path / "run"
    for name in ("semi_dgpose.weights.h5", "mapper.weights.h5", "last.weights.h5", "config.json",
                 "pose_warmup.weights.h5", "mapper_curve.csv", "mapper_sheet.png",
                 "curves.csv", "curves.png"):
        assert (run / name).exists(), name
    rows = (run / "curves.csv").read_text().splitlines()
    assert rows[0].startswith("step,images,pck@0.5") and len(rows) == 3   # steps 2 and 4
    assert rows[2].startswith("4,16,")
    mapper_rows = (run / "mapper_curve.csv").read_text().splitlines()
    assert [r.split(",")[:2] for r in mapper_rows] == [["step", "loss"], ["2", "l2"],
                                                         ["4", "bce"]]
    assert list((run / "tensorboard" / "images").glob("events.*"))
    # a second run reuses the trained Mapper
    model, _ = fit.run_config(path, steps=2, output=str(run))
    assert model.mapper.trainable is False


def test_conditional_dgpose_fit_a_warm_started_stage_2_and_a_semi_dgpose_start(tmp_path,
                                                                                 capsys):
    path = tiny_config(tmp_path, family="conditional_dgpose")
    model, history = fit.run_config(path)
    first = tmp_path / "run" / "conditional_dgpose.weights.h5"
    assert first.exists()
    assert set(history.history) >= {"l1", "kl_z", "g_gan", "d_loss"}
    # stage 2 starts from stage 1's weights, the σ head restarted at model.sigma_init
    config = json.loads(path.read_text())
    config["model"]["sigma_init"] = 0.05
    config["train"] = {**{k: v for k, v in config["train"].items() if k != "eval_every"},
                       "init_weights": str(first), "steps": 1, "steps_per_epoch": 1,
                       "learning_rate": 1e-4}
    config["output"] = str(tmp_path / "stage2")
    path.write_text(json.dumps(config))
    warm, _ = fit.run_config(path)
    out = capsys.readouterr().out
    assert "warm start from" in out and "restarted at sigma 0.05" in out
    assert float(warm.optimizer.learning_rate) == pytest.approx(1e-4)
    head = warm.encoder.sigma_z
    assert float(np.abs(head.kernel.numpy()).max()) < 5e-4       # 0, then one Adam step of 1e-4
    np.testing.assert_allclose(np.log1p(np.exp(head.bias.numpy())), 0.05 - 1e-4, atol=1e-3)
    for a, b in zip(model.decoder.trainable_weights, warm.decoder.trainable_weights):
        assert float(np.abs(a.numpy() - b.numpy()).max()) < 5e-4, a.path  # one step away

    # Semi-DGPose started from it (train.init_conditional): the trunk's conv1 over the image's
    # three channels, the decoder; the pose heads fresh, no pose warm start phase
    semi = json.loads(tiny_config(tmp_path / "semi").read_text())
    semi["model"]["sigma_init"] = 0.05
    semi["train"] = {"steps": 1, "steps_per_epoch": 1, "batch_size": 4, "learning_rate": 1e-4,
                     "init_conditional": str(first)}
    semi_path = tmp_path / "semi.json"
    semi_path.write_text(json.dumps(semi))
    started, _ = fit.run_config(semi_path)
    assert "started from Conditional-DGPose" in capsys.readouterr().out
    assert not (Path(semi["output"]) / "pose_warmup.weights.h5").exists()
    donor = model.encoder.blocks[0].trainable_weights[0].numpy()       # (7, 7, 3 + 24, C)
    conv1 = started.encoder.blocks[0].trainable_weights[0].numpy()     # (7, 7, 3, C)
    assert donor.shape[2] == 27 and conv1.shape[2] == 3
    assert float(np.abs(conv1 - donor[:, :, :3]).max()) < 5e-4
    for a, b in zip(model.decoder.trainable_weights, started.decoder.trainable_weights):
        assert float(np.abs(a.numpy() - b.numpy()).max()) < 5e-4, a.path
    np.testing.assert_allclose(np.log1p(np.exp(started.encoder.sigma_z.bias.numpy())),
                               0.05 - 1e-4, atol=1e-3)


@pytest.mark.parametrize("path", sorted((REPO / "training" / "configs").glob("*.json")),
                         ids=lambda p: p.stem)
def test_shipped_configs_name_their_script_and_model(path):
    from dgpose_tf.models import get_family

    config = fit.load_config(path)
    assert config["name"] == path.stem
    assert (REPO / "training" / f"fit_{config['family']}.py").exists()
    assert config["family"] in fit.FAMILIES
    get_family(config["family"]).from_config(config["model"])


def test_config_errors_are_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x"}')
    with pytest.raises(ValueError, match="lacks family"):
        fit.load_config(bad)
    bad.write_text("{nope")
    with pytest.raises(ValueError, match="not valid JSON"):
        fit.load_config(bad)
    with pytest.raises(FileNotFoundError):
        fit.load_config(tmp_path / "missing.json")
    orphan = tmp_path / "orphan.json"
    orphan.write_text(json.dumps({"name": "o", "family": "nope", "model": {}, "data": {},
                                  "train": {}}))
    with pytest.raises(ValueError, match="unknown family 'nope'"):
        fit.run_config(orphan)
    with pytest.raises(ValueError, match="strategy"):
        fit.make_strategy("tpu")


def test_restart_deletes_the_run_and_says_so(tmp_path, capsys):
    path = tiny_config(tmp_path, family="conditional_dgpose")
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "checkpoint").write_text("model_checkpoint_path: \"ckpt-2\"\n")
    started = fit.start_run(fit.load_config(path), restart=True)
    assert "--restart: deleted the previous run in" in capsys.readouterr().out
    assert started.folder == run and run.is_dir() and not (run / "checkpoints").exists()


def test_a_later_stage_grows_a_pose_map_and_stream_and_trains_frozen_parts(tmp_path):
    """A Semi-DGPose stage on an earlier run's weights: the pose phase runs after the warm start
    with the trunk frozen, then the VAE-GAN with the encoder frozen (train.freeze)."""
    from dgpose_tf.models.semi_dgpose import SemiDGPose

    first = SemiDGPose(width=0.0625)                # an earlier stage's file (the paper's model)
    first.build()
    earlier = tmp_path / "earlier.weights.h5"
    first.save_weights(str(earlier))
    config = json.loads(tiny_config(tmp_path / "a").read_text())
    config["model"].update(pose_from="heatmaps", background_stream=True)
    config["pose_warmup"].update(freeze_trunk=True)
    config["train"].update(init_weights=str(earlier), freeze=["encoder"])
    config["output"] = str(tmp_path / "b" / "run")
    path = tmp_path / "later.json"
    path.write_text(json.dumps(config))
    assert cli.main(["train", str(path)]) == 0
    run = tmp_path / "b" / "run"
    assert len((run / "pose_warmup_curve.csv").read_text().splitlines()) == 2
    before, after = first, SemiDGPose(**config["model"])
    after.build()
    after.load_weights(str(run / "semi_dgpose.weights.h5"))
    trunk = {v.path.split("/", 1)[1]: v.numpy() for v in before.encoder.weights}
    for v in after.encoder.weights:               # the encoder is the earlier run's but its head
        if "pose_map" not in v.path and "mu_y" not in v.path:
            np.testing.assert_array_equal(v.numpy(), trunk[v.path.split("/", 1)[1]], v.path)
    assert not np.allclose(after.decoder.convs[0].weights[0].numpy()[:, :, -4:], 0)   # learnt


def test_a_stage_of_no_vae_gan_steps_trains_only_a_new_pose_network(tmp_path):
    """``train.steps`` 0 (a Semi-DGPose stage with a pose phase only): the residual pose network
    is trained on the earlier file's frozen model, everything else is the file's."""
    from dgpose_tf.models.semi_dgpose import SemiDGPose

    kw = dict(width=0.0625, background_stream=True, part_colours=True)
    first = SemiDGPose(pose_from="heatmaps", **kw)
    first.build()
    earlier = tmp_path / "earlier.weights.h5"
    first.save_weights(str(earlier))
    config = json.loads(tiny_config(tmp_path / "a").read_text())
    config["model"].update(pose_from="residual", **kw)
    config["pose_warmup"].update(freeze_trunk=True, decay_to=0.05)
    config["train"].update(steps=0, init_weights=str(earlier), sigma_y=0.05)
    config["output"] = str(tmp_path / "b" / "run")
    path = tmp_path / "later.json"
    path.write_text(json.dumps(config))
    assert cli.main(["train", str(path)]) == 0
    after = SemiDGPose(pose_from="residual", **kw)
    after.build()
    after.load_weights(str(tmp_path / "b" / "run" / "semi_dgpose.weights.h5"))
    for part in ("decoder", "mapper", "discriminator"):
        for a, b in zip(getattr(first, part).weights, getattr(after, part).weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), a.path)
    _, s_z, _, s_y = after.encoder(np.zeros((2, 64, 64, 3), "float32"))
    np.testing.assert_allclose(s_y, 0.05, rtol=1e-4)              # train.sigma_y: q(y|x)'s σ only
    np.testing.assert_allclose(s_z, first.encoder(np.zeros((2, 64, 64, 3), "float32"))[1],
                               rtol=1e-5)
    run = tmp_path / "b" / "run"
    assert len((run / "pose_warmup_curve.csv").read_text().splitlines()) == 2
    assert not (run / "curves.csv").exists()            # no VAE-GAN step, no GAN curves
    del config["pose_warmup"]
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="0, no VAE-GAN steps, only for a Semi-DGPose stage"):
        fit.load_config(path)
