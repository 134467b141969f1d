import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.stats import entropy
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dgpose_tf import metrics
from dgpose_tf.pose import get_skeleton

SKEL = get_skeleton("semi_dgpose14")
LS, RH = SKEL.index("left_shoulder"), SKEL.index("right_hip")


def torso10(n=2):
    """Ground truth whose torso (left shoulder -> right hip) is exactly 10 px."""
    rng = np.random.default_rng(0)
    gt = rng.integers(10, 50, size=(n, 14, 2)).astype(float)  # integer pixels: exact ties
    gt[:, LS] = [20.0, 20.0]
    gt[:, RH] = [26.0, 28.0]
    return gt


def worked_example():
    gt = torso10()
    pred = gt.copy()
    pred[0, :7, 0] += 5.0      # exactly on the 0.5 * 10 px threshold
    pred[0, 7:, 0] += 2.0
    pred[1, 0, 1] += 6.0       # wrong at 0.5
    vis = np.ones((2, 14), bool)
    vis[1, 13] = False
    return pred, gt, vis


def test_pck_by_hand_lsp_vs_mmpose():
    pred, gt, vis = worked_example()
    lsp = metrics.pck(pred, gt, vis, 0.5, convention="lsp")
    assert lsp.value == pytest.approx(26 / 27) and lsp.pooled == lsp.value
    mm = metrics.pck(pred, gt, vis, 0.5, convention="mmpose")
    assert mm.pooled == pytest.approx(19 / 27)
    expected = np.array([0.0] + [0.5] * 6 + [1.0] * 6 + [1.0])
    np.testing.assert_allclose(mm.per_joint, expected)
    assert mm.value == pytest.approx(10 / 14) and mm.mean_per_joint == mm.value
    np.testing.assert_array_equal(mm.counts, [2] * 13 + [1])
    assert float(metrics.pck(pred, gt, vis, 0.5, convention="mmpose", strict=False)) == \
        pytest.approx(np.mean([0.5] + [1.0] * 13))


def mmpose_reference(pred, gt, mask, thr, norm_factor):
    """mmpose.evaluation.functional.keypoint_pck_accuracy, transcribed as its reference."""
    n, k, _ = pred.shape
    _mask = mask.copy()
    _mask[np.where((norm_factor == 0).sum(1))[0], :] = False
    distances = np.full((n, k), -1, dtype=np.float32)
    norm_factor = norm_factor.copy()
    norm_factor[np.where(norm_factor <= 0)] = 1e6
    distances[_mask] = np.linalg.norm(((pred - gt) / norm_factor[:, None, :])[_mask], axis=-1)
    acc = []
    for d in distances.T:
        valid = d != -1
        acc.append((d[valid] < thr).sum() / valid.sum() if valid.sum() > 0 else -1)
    acc = np.array(acc)
    valid_acc = acc[acc >= 0]
    return acc, valid_acc.mean() if len(valid_acc) else 0.0


def test_mmpose_convention_matches_its_reference_on_random_data():
    rng = np.random.default_rng(1)
    gt = rng.uniform(0, 64, size=(50, 14, 2))
    pred = gt + rng.normal(scale=4.0, size=gt.shape)
    mask = rng.random((50, 14)) > 0.2
    norm = rng.uniform(5, 20, size=50)
    norm[3] = 0.0                                  # a zero normaliser drops the sample
    acc, avg = mmpose_reference(pred, gt, mask, 0.5, np.stack([norm, norm], 1))
    res = metrics.pck(pred, gt, mask, 0.5, norm=norm, convention="mmpose")
    np.testing.assert_allclose(res.per_joint, acc, rtol=1e-6)
    assert res.value == pytest.approx(avg, rel=1e-6)
    assert res.excluded_samples == 1


def test_zero_or_missing_torso_excludes_the_sample():
    pred, gt, vis = worked_example()
    gt2 = np.concatenate([gt, gt[:1]])
    pred2 = np.concatenate([pred, pred[:1] + 100])
    gt2[2, RH] = gt2[2, LS]                         # zero torso
    res = metrics.pck(pred2, gt2, np.concatenate([vis, vis[:1]]), 0.5, convention="lsp")
    assert res.excluded_samples == 1 and res.value == pytest.approx(26 / 27)
    vis3 = vis.copy()
    vis3[1, LS] = False                             # torso joint not visible
    res = metrics.pck(pred, gt, vis3, 0.5, convention="lsp")
    assert res.excluded_samples == 1 and res.value == 1.0


def test_nan_prediction_counts_as_wrong():
    pred, gt, vis = worked_example()
    pred[0, 8] = np.nan
    assert metrics.pck(pred, gt, vis, 0.5, convention="lsp").value == pytest.approx(25 / 27)


def test_pckh_and_bbox_normalisers_by_hand():
    gt = np.zeros((2, 16, 2))
    gt[:, :, 0] = np.arange(16)
    gt[:, :, 1] = np.arange(16) * 2                # bbox 15 x 30 -> 30
    pred = gt.copy()
    pred[0, 0, 0] += 8.0                           # PCKh: 0.6 * |(10, 10)| = 8.485 -> right
    pred[1, 0, 0] += 9.0                           # wrong
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 15]], float)
    res = metrics.pck(pred, gt, threshold=1.0, convention="mpii", skeleton="mpii16",
                      head_boxes=boxes)
    assert res.value == pytest.approx(31 / 32)
    res = metrics.pck(pred, gt, threshold=0.28, norm="bbox")  # 0.28 * 30 = 8.4 px
    assert res.value == pytest.approx(31 / 32)
    with pytest.raises(ValueError, match="head_boxes"):
        metrics.pck(pred, gt, convention="mpii", skeleton="mpii16")


def test_auc_by_hand():
    gt = torso10(1)
    pred = gt.copy()
    pred[0, :, 0] += 3.05                          # normalised distance 0.305 for every joint
    # curve: 0 up to t = 0.30, 1 from t = 0.31: area = 0.69 + 0.01 / 2
    assert metrics.auc(pred, gt) == pytest.approx(0.695)
    t, v = metrics.pck_curve(pred, gt, thresholds=[0.3, 0.31])
    np.testing.assert_array_equal(v, [0.0, 1.0])


def test_epe_and_mpjpe_by_hand():
    gt = np.zeros((1, 3, 2))
    pred = np.array([[[3.0, 4.0], [0.0, 1.0], [100.0, 0.0]]])
    vis = np.array([[True, True, False]])
    assert metrics.epe(pred, gt, vis) == pytest.approx(3.0)
    assert metrics.mpjpe(pred, gt, visible=vis) == pytest.approx(3.0)
    np.testing.assert_allclose(metrics.mpjpe(pred, gt, visible=vis, per_joint=True), [5, 1, 0])


def test_mpjpe_alignments():
    rng = np.random.default_rng(2)
    gt = rng.normal(size=(4, 17, 3))
    gt -= gt[:, :1]
    assert metrics.mpjpe(2.5 * gt, gt, "scale") == pytest.approx(0.0, abs=1e-12)
    assert metrics.mpjpe(2.5 * gt, gt) > 0.1
    # P-MPJPE against scipy's orthogonal Procrustes plus the optimal scale
    pred = gt @ np.diag([1.0, -1.0, -1.0]) * 0.7 + 3.0 + rng.normal(scale=0.05, size=gt.shape)
    errs = []
    for p, y in zip(pred, gt):
        pc, yc = p - p.mean(0), y - y.mean(0)
        R, sv = orthogonal_procrustes(pc, yc)
        assert np.linalg.det(R) > 0
        s = sv / (pc ** 2).sum()
        errs.append(np.linalg.norm(s * pc @ R + y.mean(0) - y, axis=-1).mean())
    assert metrics.mpjpe(pred, gt, "procrustes") == pytest.approx(np.mean(errs), rel=1e-6)
    with pytest.raises(ValueError, match="alignment"):
        metrics.mpjpe(pred, gt, "rigid")


def test_mpjse_by_hand():
    gt = np.array([[[0.0, 0.0]], [[1.0, 0.0]], [[3.0, 0.0]]])       # (F=3, J=1, 2)
    pred = np.array([[[0.0, 0.0]], [[1.0, 0.0]], [[1.0, 0.0]]])
    # speed differences: 0 and 2 -> sum 2, divided by J·F = 3
    assert metrics.mpjse(pred, gt) == pytest.approx(2 / 3)
    assert metrics.mpjse(pred, gt, dt=0.5) == pytest.approx(4 / 3)
    vis = np.array([[True], [True], [False]])
    assert metrics.mpjse(pred, gt, visible=vis) == pytest.approx(0.0)


def test_psnr_and_ssim_match_scikit_image():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, size=(3, 64, 64, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, size=a.shape), 0, 255).astype(np.uint8)
    p = metrics.psnr(a, b)
    s = metrics.ssim(a, b)
    assert p.shape == s.shape == (3,)
    for i in range(3):
        assert p[i] == pytest.approx(peak_signal_noise_ratio(a[i], b[i], data_range=255), rel=1e-5)
        ref = structural_similarity(a[i], b[i], channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=255)
        assert s[i] == pytest.approx(ref, abs=1e-4)
    fa, fb = a[0] / 127.5 - 1.0, b[0] / 127.5 - 1.0           # images in [-1, 1]
    assert isinstance(metrics.ssim(fa, fb, max_val=2.0), float)
    # SSIM's luminance term depends on absolute means: [-1, 1] images score differently from
    # [0, 255] ones, and scikit-image agrees
    ref = structural_similarity(fa, fb, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False, data_range=2.0)
    assert metrics.ssim(fa, fb, max_val=2.0) == pytest.approx(ref, abs=1e-4)
    with pytest.raises(ValueError, match="max_val"):
        metrics.ssim(fa, fb)
    with pytest.raises(ValueError, match="NaN"):
        metrics.psnr(np.full((16, 16, 3), np.nan), fb[:16, :16])
    with pytest.raises(ValueError, match="same shape"):
        metrics.psnr(a[0], a[1, :32])


def test_inception_score_known_answers():
    k = 5
    uniform = np.full((100, k), 1 / k)
    assert metrics.inception_score(probabilities=uniform)[0] == pytest.approx(1.0)
    onehot = np.eye(k)[np.arange(100) % k]
    mean, std = metrics.inception_score(probabilities=onehot, splits=4)
    assert mean == pytest.approx(k) and std == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(4)
    p = rng.dirichlet(np.ones(k) * 0.3, size=60)
    ref = np.exp(np.mean([entropy(row, p.mean(0)) for row in p]))
    assert metrics.inception_score(probabilities=p, splits=1)[0] == pytest.approx(ref, rel=1e-6)
    images = rng.random((10, 8, 8, 3))
    clf = lambda x: np.full((len(x), k), 1 / k)
    assert metrics.inception_score(images, classifier=clf, splits=2)[0] == pytest.approx(1.0)


def test_inception_score_errors_say_what_to_do():
    with pytest.raises(ValueError, match="offline"):
        metrics.inception_score(np.zeros((4, 8, 8, 3)))
    with pytest.raises(ValueError, match="logits"):
        metrics.inception_score(probabilities=np.full((4, 3), 2.0))


def test_input_errors_name_the_problem():
    with pytest.raises(ValueError, match="same shape"):
        metrics.pck(np.zeros((2, 14, 2)), np.zeros((2, 13, 2)))
    with pytest.raises(ValueError, match="visible must have shape"):
        metrics.pck(np.zeros((2, 14, 2)), np.zeros((2, 14, 2)), np.ones((2, 13)))
    with pytest.raises(ValueError, match="unknown convention"):
        metrics.pck(np.zeros((2, 14, 2)), np.zeros((2, 14, 2)), convention="coco")
    bad = np.zeros((1, 14, 2))
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.pck(np.zeros((1, 14, 2)), bad, np.ones((1, 14), bool))
