import numpy as np
import pytest
import tensorflow as tf
from scipy.spatial import procrustes as scipy_procrustes
from scipy.spatial.transform import Rotation

from dgpose_tf import geometry as g


def similarity(rng, batch, dim):
    if dim == 3:
        R = Rotation.random(batch, random_state=rng.integers(1 << 30)).as_matrix()
    else:
        a = rng.uniform(-np.pi, np.pi, batch)
        R = np.stack([np.stack([np.cos(a), -np.sin(a)], -1), np.stack([np.sin(a), np.cos(a)], -1)], -2)
    return R, rng.uniform(0.3, 3.0, batch), rng.normal(scale=5.0, size=(batch, dim))


def apply(R, s, t, x):
    return s[:, None, None] * np.einsum("bij,bnj->bni", R, x) + t[:, None, :]


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("masked", [False, True])
def test_recovers_known_similarity(dim, dtype, masked):
    rng = np.random.default_rng(dim)
    x = rng.normal(size=(6, 17, dim))
    R, s, t = similarity(rng, 6, dim)
    y = apply(R, s, t, x)
    mask = None
    if masked:
        mask = rng.random((6, 17)) > 0.5
        mask[:, :3] = True                       # at least three valid joints per sample
        y = np.where(mask[..., None], y, y + rng.normal(scale=50.0, size=y.shape))  # junk
    sim = g.procrustes(x.astype(dtype), y.astype(dtype), mask)
    np.testing.assert_allclose(sim.rotation.numpy(), R, atol=1e-5)
    np.testing.assert_allclose(sim.scale.numpy(), s, rtol=1e-5)
    np.testing.assert_allclose(sim.translation.numpy(), t, atol=1e-4 if dtype == np.float32 else 1e-9)
    aligned = g.procrustes_align(x.astype(dtype), y.astype(dtype), mask).numpy()
    m = np.ones((6, 17), bool) if mask is None else mask
    np.testing.assert_allclose(aligned[m], apply(R, s, t, x)[m], atol=1e-4 if dtype == np.float32 else 1e-9)


def test_leading_batch_dimensions_and_no_scale():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 10, 3))
    R, _, t = similarity(rng, 6, 3)
    y = apply(R, np.ones(6), t, x.reshape(6, 10, 3)).reshape(2, 3, 10, 3)
    sim = g.procrustes(x, y, allow_scale=False)
    assert sim.rotation.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(sim.scale.numpy(), 1.0)
    np.testing.assert_allclose(sim.rotation.numpy().reshape(6, 3, 3), R, atol=1e-9)


@pytest.mark.parametrize("dim", [2, 3])
def test_never_reflects(dim):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, 12, dim))
    y = x.copy()
    y[..., 0] *= -1                               # a mirror image
    R = g.procrustes(x, y).rotation.numpy()
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-9)


@pytest.mark.parametrize("dim", [2, 3])
def test_matches_scipy_disparity_on_noisy_data(dim):
    """scipy's standardised disparity equals our residual / ‖y − ȳ‖² (no reflection is optimal)."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1, 15, dim))
    R, s, t = similarity(rng, 1, dim)
    y = apply(R, s, t, x) + rng.normal(scale=0.1, size=x.shape)
    aligned = g.procrustes_align(x, y).numpy()[0]
    rss = ((aligned - y[0]) ** 2).sum()
    _, _, disparity = scipy_procrustes(y[0], x[0])
    assert rss / ((y[0] - y[0].mean(0)) ** 2).sum() == pytest.approx(disparity, rel=1e-8)


@pytest.mark.parametrize("dim", [2, 3])
def test_degenerate_masks_are_stable(dim):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(3, 8, dim))
    y = x + 4.0
    mask = np.zeros((3, 8))
    mask[1, 2] = 1                                # one joint: translation only
    mask[2, :2] = 1                               # two joints: a full similarity in 2-D
    aligned = g.procrustes_align(x, y, mask).numpy()
    assert np.isfinite(aligned).all()
    np.testing.assert_allclose(aligned[0], x[0])                  # no joint: unchanged
    np.testing.assert_allclose(aligned[1], x[1] + 4.0, atol=1e-9)  # shifted onto the one joint
    np.testing.assert_allclose(aligned[2, :2], y[2, :2], atol=1e-9)


def test_gradients_are_finite_with_few_joints_in_2d():
    rng = np.random.default_rng(7)
    x = tf.Variable(rng.normal(size=(4, 6, 2)))
    y = tf.constant(rng.normal(size=(4, 6, 2)))
    mask = tf.constant(np.array([[0] * 6, [1] + [0] * 5, [1, 1, 0, 0, 0, 0], [1] * 6], float))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum((g.procrustes_align(x, y, mask) - y) ** 2 * mask[..., None])
    grad = tape.gradient(loss, x)
    assert np.isfinite(grad.numpy()).all()


def test_nan_joints_take_no_part():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(1, 10, 3))
    R, s, t = similarity(rng, 1, 3)
    y = apply(R, s, t, x)
    y[0, 4] = np.nan
    sim = g.procrustes(x, y)
    np.testing.assert_allclose(sim.rotation.numpy(), R, atol=1e-9)


def test_shape_errors_name_the_problem():
    with pytest.raises(ValueError, match="2\\|3"):
        g.procrustes(np.zeros((4, 5)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="differ in shape"):
        g.procrustes(np.zeros((4, 5, 3)), np.zeros((4, 6, 3)))


def camera(rng):
    R = Rotation.random(random_state=9).as_matrix()
    T = np.array([1.0, -2.0, 0.5])
    f, c = np.array([1145.0, 1143.8]), np.array([512.5, 515.4])
    k, p = np.array([-0.207, 0.247, -0.003]), np.array([-0.0014, -0.0009])
    pts_cam = np.stack([rng.uniform(-1, 1, 20), rng.uniform(-1, 1, 20), rng.uniform(3, 6, 20)], -1)
    pts_world = (pts_cam @ R) + T                 # X_world = R^T X_cam + T
    return R, T, f, c, k, p, pts_world


def test_brown_model_matches_opencv():
    import cv2

    rng = np.random.default_rng(10)
    R, T, f, c, k, p, X = camera(rng)
    uv = g.project_points(X, R, T, f, c, k, p, model="brown").numpy()
    K = np.array([[f[0], 0, c[0]], [0, f[1], c[1]], [0, 0, 1]])
    rvec, _ = cv2.Rodrigues(R)
    ref, _ = cv2.projectPoints(X, rvec, -R @ T, K, np.array([k[0], k[1], p[0], p[1], k[2]]))
    np.testing.assert_allclose(uv, ref[:, 0], atol=1e-6)


def test_h36m_model_by_hand():
    # x = (0.2, 0.1) at depth 1: r² = 0.05, radial = 1 + 0.1·0.05 = 1.005,
    # tan = p1·y + p2·x = 0.01·0.1 + 0.02·0.2 = 0.005 -> x' = 0.2·1.01 + 0.02·0.05 = 0.203,
    # y' = 0.1·1.01 + 0.01·0.05 = 0.1015; pixels = f·x' + c
    uv = g.project_points(np.array([[0.2, 0.1, 1.0]]), np.eye(3), np.zeros(3),
                          np.array([100.0, 200.0]), np.array([10.0, 20.0]),
                          np.array([0.1, 0.0, 0.0]), np.array([0.01, 0.02]), model="h36m")
    np.testing.assert_allclose(uv.numpy(), [[100 * 0.203 + 10, 200 * 0.1015 + 20]], atol=1e-12)


def test_world_camera_round_trip_batched_and_differentiable():
    rng = np.random.default_rng(11)
    R, T, f, c, k, p, X = camera(rng)
    Xb = tf.Variable(np.stack([X, X + 0.1]))
    Rb, Tb = np.stack([R, R]), np.stack([T, T])
    back = g.camera_to_world(g.world_to_camera(Xb, Rb, Tb), Rb, Tb)
    np.testing.assert_allclose(back.numpy(), Xb.numpy(), atol=1e-12)
    with tf.GradientTape() as tape:
        uv, depth = g.project_points(Xb, Rb, Tb, np.stack([f, f]), np.stack([c, c]),
                                     np.stack([k, k]), np.stack([p, p]), return_depth=True)
        loss = tf.reduce_sum(uv)
    assert uv.shape == (2, 20, 2) and (depth.numpy() > 0).all()
    assert np.isfinite(tape.gradient(loss, Xb).numpy()).all()
    no_dist = g.project_points(X, R, T, f, c).numpy()
    cam = g.world_to_camera(X, R, T).numpy()
    np.testing.assert_allclose(no_dist, f * cam[:, :2] / cam[:, 2:] + c, atol=1e-9)
