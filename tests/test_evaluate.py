import json

import keras
import numpy as np
import pytest

from conftest import make_run
from dgpose_tf import cli
from dgpose_tf.data.synthetic import SyntheticPeople, render_batch
from dgpose_tf.evaluate import evaluate, format_table, synthetic_test_set
from dgpose_tf.models.conditional_dgpose import ConditionalDGPose
from dgpose_tf.models.semi_dgpose import SemiDGPose


@pytest.fixture(scope="module")
def data():
    return synthetic_test_set(12, seed=5)


def test_transfer_targets_are_renderings_of_appearance_a_in_pose_b(data):
    people = SyntheticPeople(64, 5)
    poses, apps, scenes, cams = zip(*(people.parameters(i) for i in range(12)))
    # the same renderer call with each person's own pose gives back the test images exactly
    own = render_batch(np.stack(poses), apps, scenes, cams, 64)
    np.testing.assert_array_equal(np.stack([s.image for s in own]),
                                  np.round((data["image"] + 1) * 127.5).astype(np.uint8))
    b = render_batch(np.stack(poses[1:2]), apps[:1], scenes[:1], cams[1:2], 64)[0]
    np.testing.assert_array_equal(data["transfer_target"][0], b.image)
    np.testing.assert_array_equal(data["transfer_joints"][0], data["joints"][1])


class Oracle:
    """Knows the answers: estimates the true pose, reconstructs the input, transfers to the
    ground truth. Its figures must be perfect."""
    name = "oracle"

    def __init__(self, data):
        self.data = data

    def _rows(self, images):
        return [int(np.argmin(np.abs(self.data["image"] - im).sum((1, 2, 3)))) for im in images]

    def estimate_pose(self, images):
        return self.data["joints"][self._rows(images)]

    def reconstruct(self, images):
        return images

    def transfer(self, pose_images, appearance_images):
        rows = self._rows(appearance_images)
        return self.data["transfer_target"][rows].astype(np.float32) / 127.5 - 1.0


def test_oracle_scores_perfectly_and_files_are_written(data, tmp_path):
    res = evaluate(Oracle(data), data=data, out_dir=tmp_path, seed=5)
    assert res["pck@0.5"] == 1.0 and res["auc@0.5"] > 0.95
    assert res["reconstruction_ssim"] == pytest.approx(1.0)
    assert res["transfer_ssim"] > 0.995
    for name in ("pck_curve.png", "examples.png", "metrics.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "metrics.json").read_text())["n"] == 12


@pytest.mark.parametrize("cls", [SemiDGPose, ConditionalDGPose])
def test_untrained_models_score_badly(cls, data):
    keras.utils.set_random_seed(0)
    model = cls(width=0.0625)
    model.build()
    res = evaluate(model, data=data, seed=5)
    assert 0.0 <= res["reconstruction_ssim"] < 0.5 and res["transfer_ssim"] < 0.5
    if cls is SemiDGPose:
        assert res["pck@0.5"] < 0.5
    else:
        assert "pck@0.5" not in res
    assert "reconstruction_ssim" in format_table([res])


def test_cli_evaluates_a_training_run(tmp_path, capsys):
    run = tmp_path / "run"
    make_run(run, "semi_dgpose", "tiny")
    assert cli.main(["evaluate", str(run), "--n", "8", "--out", str(tmp_path / "ev"),
                     "--pose-model", str(run)]) == 0
    out = capsys.readouterr().out
    assert "pck@0.5" in out and "reconstruction_pck@0.5" in out
    assert (tmp_path / "ev" / "tiny" / "pck_curve.png").exists()
    assert cli.main(["evaluate", str(tmp_path / "nothing"), "--n", "4"]) != 0
