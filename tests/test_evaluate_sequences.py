"""The pose-sequence evaluation: baselines with known answers on tiny hand-made sequences, the
detector-like corruption, the metrics and the publish gate."""

import numpy as np
import pytest

from dgpose_tf.evaluate import pose_sequence_aegan as es
from dgpose_tf.pose import get_skeleton


def _walk(t=48, seed=0):
    """A smooth synthetic 2-D sequence of the 28 joints."""
    from dgpose_tf.data.motion import SyntheticMotion

    motion, seqs, i = SyntheticMotion(seed, fps=24), [], 0
    while sum(len(q) for q in seqs) < t:
        seqs.append(motion.sequence(i)["poses"])
        i += 1
    return np.concatenate(seqs)[:t].astype(np.float64)


def test_ridge_recovers_a_linear_rule():
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(500, 12, 2))
    poses = np.zeros((500, 28, 2))
    poses[:, es.KEEP12] = obs
    # every other joint the mean of two observed joints: linear, so ridge must find it
    others = np.flatnonzero(~es.KEEP12)
    for k, j in enumerate(others):
        poses[:, j] = 0.5 * (obs[:, k % 12] + obs[:, (k + 5) % 12])
    r = es.Ridge(alpha=1e-8).fit(poses)
    test = poses[:10].copy()
    test[:, ~es.KEEP12] = np.nan
    np.testing.assert_allclose(r.predict(test), poses[:10], atol=1e-6)
    # it works in any frame: pixels
    np.testing.assert_allclose(r.predict(test * 300 + 50), poses[:10] * 300 + 50, atol=1e-4)


def test_linear_fill_pchip_and_kalman_on_simple_motion():
    t = np.arange(30, dtype=float)
    x = np.stack([np.stack([t * 0.1, 2 - t * 0.05], -1)] * 3, 1)         # (30, 3, 2) linear
    obs = np.ones((30, 3), bool)
    obs[10:15] = False
    np.testing.assert_allclose(es.linear_fill(x, obs), x, atol=1e-12)
    holes = np.where(obs[..., None], x, np.nan)
    np.testing.assert_allclose(es.pchip_savgol(holes), x, atol=1e-9)      # SG keeps lines
    k = es.kalman_rts(holes, measurement_sd=1e-3, acceleration_sd=0.1)
    np.testing.assert_allclose(k, x, atol=1e-3)                          # constant velocity
    assert np.isnan(es.linear_fill(x, np.zeros((30, 3), bool))).all()


def test_detector_noise_is_correlated_in_time_and_has_the_gaps():
    truth = _walk(240)
    noisy, gap = es.detector_noise(truth, np.random.default_rng(1), gap_seconds=0.5,
                                   jitter=0.0, swap_rate=0.0)
    assert noisy.shape == (240, 12, 2)
    assert np.isnan(noisy[gap]).all() and np.isfinite(noisy[~gap]).all()
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, gap.astype(int), 0])))[::2]
    assert (runs == 12).all() and len(runs) == 5                           # 0.5 s every 2 s
    idx = [get_skeleton("mpi_inf_3dhp28").index(j) for j in get_skeleton("alphapose12").joints]
    err = np.linalg.norm(noisy - truth[:, idx], axis=-1)
    bad = (err > 1e-9) & ~gap[:, None]
    assert bad.any()
    # outliers come in bursts: an erroneous frame's neighbour is erroneous far more often than
    # the base rate (i.i.d. errors would give the base rate)
    pairs = bad[1:] & bad[:-1]
    assert pairs.sum() / max(bad[:-1].sum(), 1) > 3 * bad.mean()


def test_sequence_metrics_known_answers():
    truth = _walk(40)
    perfect = es.sequence_metrics(truth, truth)
    for g in es.GROUPS:
        assert perfect[g]["pckh@0.1"] == 1.0 and perfect[g]["auc"] == pytest.approx(1.0, abs=0.011)
    assert perfect["accel/h"] == 0 and perfect["mpjse/h"] == 0
    h = es.head_size(truth)[:, None, None]
    off = truth + np.array([0.3, 0.4]) * h                                  # 0.5 head sizes away
    m = es.sequence_metrics(off, truth)
    assert m["28 all"]["pckh@0.1"] == 0.0 and m["28 all"]["pckh@1.0"] == 1.0
    assert m["28 all"]["mpjpe/h"] == pytest.approx(0.5)
    missing = truth.copy()
    missing[:, ~es.KEEP12] = np.nan
    m = es.sequence_metrics(missing, truth)
    assert m["16 upsampled"]["pckh@1.0"] == 0.0 and np.isnan(m["28 all"]["mpjpe/h"])


def test_below_trivial_gate():
    def fig(p12, p16, auc16, gap):
        return {"12 observed": {"pckh@0.5": p12}, "16 upsampled": {"pckh@0.5": p16, "auc": auc16},
                "gap_mpjpe/h": gap}
    base = {"raw input": fig(0.6, 0.0, 0.0, np.nan), es.PCHIP: fig(0.8, 0.8, 0.7, 0.3)}
    good = {g: {**base, "AE-GAN s8 fill": fig(0.7, 0.85, 0.75, 0.2)} for g in es.GAPS}
    assert es.below_trivial(good) == []
    bad = {g: {**base, "AE-GAN s8 fill": fig(0.5, 0.85, 0.6, 0.4)} for g in es.GAPS}
    assert es.below_trivial(bad) == ["12 observed pckh@0.5", "16 upsampled auc",
                                     "gap_mpjpe/h (0.5 s)", "gap_mpjpe/h (1.0 s)"]
    # keys as a card stores them
    assert es.below_trivial({str(k): v for k, v in bad.items()}) == es.below_trivial(bad)


def test_evaluate_motion_table_runs_with_a_tiny_model():
    import keras

    from dgpose_tf.models.pose_sequence_aegan import PoseSequenceAEGAN

    keras.utils.set_random_seed(0)
    m = PoseSequenceAEGAN()
    m.build()
    clips = es.synthetic_test_motion(1)
    clips = {k: v[:60] for k, v in clips.items()}
    res = es.evaluate_motion(m, clips, cameras=1, shifts=(24,), steps=1, progress=None,
                             ridge=es.ridge_baseline(_walk(200)[None].repeat(2, 0)))
    assert set(res) == set(es.GAPS)
    assert {"raw input", es.PCHIP, "Kalman RTS + ridge", "AE-GAN s24 refine",
            "AE-GAN s24 fill"} <= set(res[0.5])
    # fill puts the observed joints back: the 12 observed score as the raw input's where seen
    assert res[0.5]["AE-GAN s24 fill"]["12 observed"]["pckh@0.1"] >= \
        res[0.5]["raw input"]["12 observed"]["pckh@0.1"]
    table = es.format_clip_table(res)
    assert "16 upsampled" in table and "AE-GAN s24 fill" in table


@pytest.mark.skipif(not (es.Path(__file__).resolve().parents[2] / "shared" / "data" /
                         "cmu_mocap" / "02_01.bvh").is_file(), reason="CMU clips not here")
def test_cmu_clip_loads_at_24_fps():
    clip = es.load_clip(es.Path(__file__).resolve().parents[2] / "shared" / "data" / "cmu_mocap" /
                        "02_01.bvh")
    assert clip.shape == (69, 28, 3) and np.isfinite(clip).all()


def test_ablations_run_and_report_each_variant():
    import keras

    from dgpose_tf.models.pose_sequence_aegan import PoseSequenceAEGAN

    keras.utils.set_random_seed(0)
    m = PoseSequenceAEGAN()
    m.build()
    clips = {k: v[:48] for k, v in es.synthetic_test_motion(1).items()}
    variants = {k: es.ABLATIONS[k] for k in ("thesis default", "prior term 0", "no Procrustes")}
    r = es.ablations(m, clips, steps=2, variants=variants)
    assert set(r) == set(variants) | {"_target"}
    for v in variants:
        assert len(r[v]["curve"]) == 3 and np.isfinite(r[v]["final_loss"])
    assert r["thesis default"]["steps_to_target"] is not None
    assert "prior term 0" in es.format_ablations(r)
