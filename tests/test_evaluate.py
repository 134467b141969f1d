import json

import keras
import numpy as np
import pytest

from conftest import make_run, publish_sandbox
from dgpose_tf import cli
from dgpose_tf.data.synthetic import SyntheticPeople, render_batch
from dgpose_tf.evaluate.dgpose import evaluate, format_table, synthetic_test_set
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
    assert res["reconstruction_ssim_true_background"] == pytest.approx(1.0)
    assert res["transfer_ssim_true_person"] > 0.995
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


# --- trivial answers and the masked image metrics, on hand-made sets ------------------------------

def test_ssim_map_is_the_map_behind_tf_ssim_and_scikit_image():
    from skimage.metrics import structural_similarity

    from dgpose_tf import metrics

    rng = np.random.default_rng(0)
    a = rng.random((2, 24, 24, 3)).astype(np.float32)
    b = np.clip(a + 0.2 * rng.standard_normal(a.shape), 0, 1).astype(np.float32)
    m = metrics.ssim_map(a, b, 1.0)
    assert m.shape == (2, 14, 14)
    np.testing.assert_allclose(m.mean((1, 2)), metrics.ssim(a, b, 1.0), atol=1e-5)
    _, full = structural_similarity(a[1], b[1], channel_axis=-1, gaussian_weights=True,
                                    sigma=1.5, use_sample_covariance=False, data_range=1.0,
                                    full=True)
    np.testing.assert_allclose(m[1], full.mean(-1)[5:-5, 5:-5], atol=1e-4)


def test_masked_metrics_known_answers():
    from dgpose_tf import metrics

    a = np.zeros((2, 16, 16, 3), np.float32)
    b = a.copy()
    b[0, :8] = 0.5                       # top half differs by 0.5 in image 0
    mask = np.zeros((2, 16, 16), bool)
    mask[:, :4] = True                   # rows 0–3: inside the changed half
    np.testing.assert_allclose(metrics.masked_l1(a, b, mask), [0.5, 0.0])
    mask[0, 12:] = True                  # 4 more rows, unchanged
    assert metrics.masked_l1(a, b, mask)[0] == pytest.approx(0.25)
    same = metrics.masked_ssim(b, b, np.ones((2, 16, 16)), 1.0)
    np.testing.assert_allclose(same, 1.0, atol=1e-6)
    empty = metrics.masked_ssim(a, b, np.zeros((2, 16, 16)), 1.0)
    assert np.isnan(empty).all()         # the mask is empty: no answer, not a score
    with pytest.raises(ValueError, match="mask must have shape"):
        metrics.masked_l1(a, b, np.ones((2, 8, 8)))


def test_ssim_split_known_answers():
    from dgpose_tf import metrics
    from dgpose_tf.evaluate.dgpose import ssim_split

    rng = np.random.default_rng(0)
    ref = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    mask = np.zeros((2, 32, 32), bool)
    mask[:, 8:24, 10:20] = True
    wrong_person = np.where(mask[..., None], 0.5, ref).astype(np.float32)
    bg, person = ssim_split(wrong_person, ref, mask)
    assert person == pytest.approx(1.0) and bg == pytest.approx(
        float(np.mean(metrics.ssim(wrong_person, ref, 1.0))))
    wrong_background = np.where(mask[..., None], ref, 0.5).astype(np.float32)
    bg, person = ssim_split(wrong_background, ref, mask)
    assert bg == pytest.approx(1.0) and person < 0.5


def test_flat_colour_and_blur_baselines():
    from dgpose_tf.evaluate.dgpose import blurred, flat_colour

    img = np.zeros((1, 4, 4, 3), np.float32)
    img[0, :2, :, 0] = 1.0               # red top half
    flat = flat_colour(img)
    np.testing.assert_allclose(flat[0, 3, 3], [0.5, 0.0, 0.0])
    assert flat.shape == img.shape and np.ptp(flat[..., 0]) == 0
    const = np.full((1, 16, 16, 3), 0.3, np.float32)
    np.testing.assert_allclose(blurred(const), const, atol=1e-6)


def test_mean_pose_comes_from_training_people_not_the_test_set():
    from dgpose_tf.data.pipeline import synthetic_dataset
    from dgpose_tf.evaluate.dgpose import TRAIN_SEED, mean_pose

    b = next(iter(synthetic_dataset(6, 6, seed=TRAIN_SEED, heatmaps=False)))
    joints, labelled = b["joints"].numpy(), b["pose_mask"].numpy()[:, :28:2] > 0
    expected = np.array([joints[labelled[:, j], j].mean(0) for j in range(14)])
    np.testing.assert_allclose(mean_pose(6), expected, rtol=1e-5)


def _hand_made_set(n=4):
    """Tiny data dict: uniform grey scenes with a white square person; the transfer target is
    the same as the input, so copying the appearance image is perfect."""
    img = np.full((n, 16, 16, 3), -0.2, np.float32)
    img[:, 4:10, 6:10] = 1.0
    mask = np.zeros((n, 16, 16), np.uint8)
    mask[:, 4:10, 6:10] = 1
    joints = np.tile(np.linspace(2, 13, 28, dtype=np.float32).reshape(1, 14, 2), (n, 1, 1))
    return {"image": img, "mask": mask, "next_mask": mask, "transfer_mask": mask,
            "transfer_target": np.round((img + 1) * 127.5).astype(np.uint8),
            "joints": joints, "transfer_joints": joints, "visible": np.ones((n, 14), bool),
            "pose_mask": np.ones((n, 48), np.float32),
            "transfer_pose_mask": np.ones((n, 48), np.float32)}


def test_trivial_answers_on_a_hand_made_set():
    from dgpose_tf.evaluate.dgpose import trivial_answers

    answers, curve = trivial_answers(_hand_made_set())
    copy = answers["copy appearance image"]
    assert copy["transfer_ssim"] == pytest.approx(1.0, abs=1e-3)
    assert copy["transfer_masked_l1"] == pytest.approx(0.0, abs=1e-3)
    flat = answers["flat mean colour"]
    # inside the mask the flat image is the mean colour: |1 − mean| in [0, 1] units
    mean = (0.4 * (256 - 24) + 1.0 * 24) / 256
    assert flat["reconstruction_masked_l1"] == pytest.approx(1.0 - mean, abs=1e-5)
    assert answers["true renders"]["pose_swap_change"] == pytest.approx(0.0, abs=1e-3)
    assert answers["ignore the pose"]["pose_swap_change"] == 0.0
    assert len(curve) == 51 and "pck@0.5" in answers["mean pose"]


def test_below_trivial_and_the_table_mark_it():
    from dgpose_tf.evaluate.dgpose import below_trivial

    res = {"model": "m", "pck@0.5": 0.60, "transfer_ssim": 0.65, "transfer_masked_l1": 0.10,
           "reconstruction_ssim": float("nan"),
           "trivial": {"mean pose": {"pck@0.5": 0.55},
                       "copy appearance image": {"transfer_ssim": 0.65,
                                                 "transfer_masked_l1": 0.20},
                       "flat mean colour": {"reconstruction_ssim": 0.5}}}
    # a tie is not a win; lower is better for L1; NaN never beats
    assert below_trivial(res) == ["reconstruction_ssim", "transfer_ssim"]
    res["below_trivial"] = below_trivial(res)
    table = format_table([res])
    assert "0.6500 ✗" in table and "0.6000 ✗" not in table
    assert "m: below its trivial answer: reconstruction_ssim, transfer_ssim" in table
    assert "copy appearance image" in table


def test_evaluation_prints_trivial_answers_and_pose_swap(data):
    keras.utils.set_random_seed(0)
    model = SemiDGPose(width=0.0625)
    model.build()
    res = evaluate(model, data=data, seed=5, pose_model=model)
    for answer in ("mean pose", "flat mean colour", "blurred input", "copy appearance image"):
        assert answer in res["trivial"]
    assert {"pose_swap_change", "pose_swap_pck@0.5", "transfer_pck@0.5",
            "reconstruction_masked_ssim", "transfer_masked_l1"} <= set(res)
    assert "pck@0.5" in res["below_trivial"]       # an untrained pose head loses to the mean


def test_publish_refuses_a_model_below_its_trivial_answers(tmp_path):
    publish, fake, card = publish_sandbox(tmp_path, "semi_dgpose_synthetic")
    (fake / "training" / "configs").mkdir(parents=True)
    for stage in ("my_stage1", "my_stage2", "semi_dgpose_synthetic"):
        (fake / "training" / "configs" / f"{stage}.json").write_text("{}")
    before = sorted(p.relative_to(fake) for p in fake.rglob("*"))
    run = tmp_path / "run"
    make_run(run, "semi_dgpose", "semi_dgpose_synthetic",
             config=json.loads(card.read_text())["config"])
    # a stage 3 after a stage 2 whose stage 1 started from the shipped Conditional-DGPose: the
    # card names the donor
    stage1, stage2 = tmp_path / "stage1", tmp_path / "stage2"
    stage1.mkdir()
    stage2.mkdir()
    donor = fake / "saved_models" / "conditional_dgpose_synthetic" / "keras-3.weights.h5"
    (stage1 / "config.json").write_text(json.dumps({"name": "my_stage1",
                                                    "train": {"init_conditional": str(donor)}}))
    (stage2 / "config.json").write_text(json.dumps(
        {"name": "my_stage2", "train": {"init_weights": str(stage1 / "semi_dgpose.weights.h5")}}))
    config = json.loads((run / "config.json").read_text())
    config["train"] = {"init_weights": str(stage2 / "semi_dgpose.weights.h5"), "steps": 3}
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(publish.BelowTrivialError, match="does not beat .*nothing was written"):
        publish.publish(run, n=8, repo=fake)
    assert sorted(p.relative_to(fake) for p in fake.rglob("*")) == before
    assert (fake / "zoo" / card.name).read_text() == card.read_text()
    # --experimental publishes it all the same, with the failing figures on the card
    published = publish.publish(run, n=8, repo=fake, experimental=True)
    written = json.loads((fake / "zoo" / card.name).read_text())
    assert written["below_trivial"] == published["below_trivial"]
    assert "pck@0.5" in written["below_trivial"]
    assert written["training"]["warm_start"] == config["train"]["init_weights"]
    assert written["training"]["settings"]["train"] == config["train"]
    assert written["training"]["command"] == (       # every stage's config, earliest first
        "dgpose train training/configs/my_stage1.json && dgpose train "
        "training/configs/my_stage2.json && dgpose train training/configs/semi_dgpose_synthetic.json")
    from dgpose_tf import zoo
    assert written["training"]["started_from"] == {
        "weights": str(donor), "entry": "conditional_dgpose_synthetic",
        "version": zoo.info("conditional_dgpose_synthetic")["version"]}
    assert (fake / "saved_models" / "semi_dgpose_synthetic" / str(written["version"]) /
            "saved_model.pb").exists()
    assert (fake / "zoo" / "figures" / "semi_dgpose_synthetic" / "metrics.json").exists()
    # a later version replaces the evaluation and the run's curves, not earlier stages' files
    shown = fake / "zoo" / "figures" / "semi_dgpose_synthetic"
    (shown / "curves_stage1.csv").write_text("step\n1\n")
    (shown / "curves.csv").write_text("step\n1\n")         # the last version's; this run has none
    (shown / "metrics.json").write_text("{}")
    # publishing again never overwrites a published version: the card moves to the next one
    again = publish.publish(run, n=8, repo=fake, experimental=True)
    assert again["version"] == written["version"] + 1
    folder = fake / "saved_models" / "semi_dgpose_synthetic"
    assert sorted(p.name for p in folder.iterdir()) == [
        str(again["version"]), f"keras-{again['version']}.weights.h5"]
    assert json.loads((fake / "zoo" / card.name).read_text())["version"] == again["version"]
    assert (shown / "curves_stage1.csv").read_text() == "step\n1\n"
    assert not (shown / "curves.csv").exists()
    assert json.loads((shown / "metrics.json").read_text())["seed"] == again["metrics"][
        "synthetic_test"]["seed"]


def test_pck_of_a_pose_estimator_known_answers(data):
    from dgpose_tf.evaluate.dgpose import pck_of

    joints = data["joints"]
    by_index = dict(data, image=np.arange(len(joints))[:, None])   # the estimator looks them up
    assert pck_of(lambda i: joints[i[:, 0]], by_index) == 1.0
    assert pck_of(lambda i: joints[i[:, 0]] + 1000.0, by_index) == 0.0
