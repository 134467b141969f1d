import numpy as np
import pytest

from dgpose_tf import pose
from dgpose_tf.pose import get_skeleton, list_skeletons

ALL = list_skeletons()


def test_every_listed_joint_set_is_registered():
    assert set(ALL) == {"semi_dgpose14", "lsp14", "mpii16", "coco17", "openpose18", "openpose25",
                        "openpose25b", "alphapose12", "halpe26", "h36m17", "mpi_inf_3dhp28", "mpi_inf_3dhp17",
                        "synthetic33"}
    sizes = {n: get_skeleton(n).num_joints for n in ALL}
    assert sizes == {"semi_dgpose14": 14, "lsp14": 14, "mpii16": 16, "coco17": 17,
                     "openpose18": 18, "openpose25": 25, "openpose25b": 25, "halpe26": 26, "alphapose12": 12,
                     "h36m17": 17, "mpi_inf_3dhp28": 28, "mpi_inf_3dhp17": 17, "synthetic33": 33}


@pytest.mark.parametrize("name", ALL)
def test_flip_is_an_involution_that_swaps_sides(name):
    s = get_skeleton(name)
    f = s.flip_indices
    np.testing.assert_array_equal(f[f], np.arange(s.num_joints))
    for i, j in enumerate(f):
        a, b = s.joints[i], s.joints[j]
        if a.startswith("left_"):
            assert b == "right_" + a[5:]
        elif a.startswith("right_"):
            assert b == "left_" + a[6:]
        else:
            assert i == j


@pytest.mark.parametrize("name", ALL)
def test_converting_to_itself_is_identity(name):
    s = get_skeleton(name)
    c = pose.conversion(name, name)
    np.testing.assert_array_equal(c.matrix, np.eye(s.num_joints))
    x = np.random.default_rng(0).normal(size=(3, s.num_joints, 2))
    y, vis = c(x)
    np.testing.assert_array_equal(y, x)
    assert vis.all() and not c.approximations and not c.missing


@pytest.mark.parametrize("name", ALL)
def test_limbs_colours_and_flip_of_coordinates(name):
    s = get_skeleton(name)
    assert len(s.limb_colors) == len(s.limbs) == len(s.limb_indices)
    x = np.random.default_rng(1).uniform(0, 63, size=(2, s.num_joints, 2))
    flipped = s.flip(x, width=64)
    np.testing.assert_allclose(s.flip(flipped, width=64), x)
    i = s.flip_indices[0]
    np.testing.assert_allclose(flipped[:, 0, 0], 63 - x[:, i, 0])


def test_known_orders_element_by_element():
    assert get_skeleton("lsp14").joints[:3] == ("right_ankle", "right_knee", "right_hip")
    assert get_skeleton("lsp14").joints[12:] == ("neck", "head_top")
    assert get_skeleton("mpii16").joints[6:10] == ("pelvis", "thorax", "neck", "head_top")
    assert get_skeleton("coco17").joints[5:7] == ("left_shoulder", "right_shoulder")
    assert get_skeleton("openpose18").joints[:3] == ("nose", "neck", "right_shoulder")
    assert get_skeleton("alphapose12").joints == get_skeleton("coco17").joints[5:]
    h36m = get_skeleton("h36m17")
    assert h36m.joints[0] == "pelvis" and h36m.joints[10] == "head_top"
    assert h36m.joints[11] == "left_shoulder" and h36m.joints[16] == "right_wrist"
    full, sub = get_skeleton("mpi_inf_3dhp28"), get_skeleton("mpi_inf_3dhp17")
    one_based = [8, 6, 15, 16, 17, 10, 11, 12, 24, 25, 26, 19, 20, 21, 5, 4, 7]
    assert [full.joints[i - 1] for i in one_based] == list(sub.joints)
    assert get_skeleton("semi_dgpose14").joints[:2] == ("head_top", "neck")


def test_conversion_approximations_are_named_and_computed():
    coco = get_skeleton("coco17")
    x = np.zeros((1, 17, 2))
    x[0, coco.index("left_hip")] = [10, 40]
    x[0, coco.index("right_hip")] = [20, 40]
    x[0, coco.index("left_shoulder")] = [8, 10]
    x[0, coco.index("right_shoulder")] = [22, 14]
    vis = np.ones((1, 17), bool)
    vis[0, coco.index("left_ear")] = False
    c = pose.conversion("coco17", "mpii16")
    y, yv = c(x, vis)
    mpii = get_skeleton("mpii16")
    np.testing.assert_allclose(y[0, mpii.index("pelvis")], [15, 40])
    np.testing.assert_allclose(y[0, mpii.index("neck")], [15, 12])
    assert c.approximations["pelvis"] == "pelvis = mean of hips"
    assert "head_top" in c.missing
    assert np.isnan(y[0, mpii.index("head_top")]).all() and not yv[0, mpii.index("head_top")]
    # an approximation is invisible when any of its sources is
    c2 = pose.conversion("coco17", "mpi_inf_3dhp17")
    _, v2 = c2(x, vis)
    assert c2.approximations["head"] == "head = mean of ears"
    assert not v2[0, get_skeleton("mpi_inf_3dhp17").index("head")]


def test_h36m_and_3dhp17_map_onto_each_other():
    c = pose.conversion("h36m17", "mpi_inf_3dhp17")
    assert not c.missing
    assert set(c.approximations) == {"neck", "head"}
    back = pose.conversion("mpi_inf_3dhp17", "h36m17")
    x = np.random.default_rng(2).normal(size=(4, 17, 3))
    y, _ = back(*c(x))
    np.testing.assert_allclose(y, x)


def test_errors_name_the_problem():
    with pytest.raises(KeyError, match="unknown skeleton 'lsp15'"):
        get_skeleton("lsp15")
    with pytest.raises(ValueError, match=r"\(\.\.\., 14, D\)"):
        pose.convert(np.zeros((2, 13, 2)), "lsp14", "coco17")
    with pytest.raises(KeyError, match="not in skeleton 'coco17'"):
        get_skeleton("coco17").index("head_top")
