"""One declarative description per joint set.

A :class:`Skeleton` lists its joints by *canonical* name (a shared vocabulary, so that the same
anatomical point has the same name in every set), in the dataset's own order, with the limbs used
for drawing. Everything else is derived from the names:

* the left/right swap partner of ``left_x`` is ``right_x`` (and vice versa); a joint without a
  side is its own partner; ``flip_indices`` is that permutation, and it is an involution;
* limb colours follow the side of the limb (right = warm, left = cool, centre = green), with a
  shade per limb so that neighbouring limbs stay distinguishable.

Dataset-specific spellings are kept in ``source_names`` for documentation and for loaders.

Canonical names that are *not* the same point in every dataset are kept apart on purpose:
``neck`` (the base of the head / upper neck, LSP "neck", MPII "upper neck", OpenPose "neck"),
``thorax`` (the top of the sternum, Human3.6M "Thorax", MPII "thorax"), ``neck_nose``
(Human3.6M "Neck/Nose") and ``head`` (centre of the head, MPI-INF-3DHP "head"). Conversions between
them are explicit, named approximations in :mod:`dgpose_tf.pose.convert`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Skeleton", "SKELETONS", "get_skeleton", "list_skeletons"]

_SIDE_COLOURS = {  # RGB, three shades per side, cycled along the limb list
    "right": ((230, 60, 40), (245, 130, 30), (200, 30, 110)),
    "left": ((40, 110, 230), (30, 190, 220), (110, 70, 220)),
    "centre": ((60, 190, 70), (150, 210, 60), (40, 150, 120)),
}


def _side(name: str) -> str:
    if name.startswith("left_"):
        return "left"
    if name.startswith("right_"):
        return "right"
    return "centre"


def _partner(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[len("left_"):]
    if name.startswith("right_"):
        return "left_" + name[len("right_"):]
    return name


@dataclass(frozen=True)
class Skeleton:
    """A joint set: names in dataset order, limbs for drawing, derived flip and colours.

    Attributes:
        name: registry key, e.g. ``"lsp14"``.
        joints: canonical joint names in the dataset's order.
        limbs: pairs of joint names drawn as line segments.
        source_names: the dataset's own names for the joints, same order (documentation).
        description: where the joint set comes from and its quirks.
    """

    name: str
    joints: tuple[str, ...]
    limbs: tuple[tuple[str, str], ...]
    source_names: tuple[str, ...] = ()
    description: str = ""
    _index: dict = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if len(set(self.joints)) != len(self.joints):
            raise ValueError(f"skeleton {self.name!r}: duplicate joint names")
        if self.source_names and len(self.source_names) != len(self.joints):
            raise ValueError(f"skeleton {self.name!r}: source_names must match joints")
        index = {j: i for i, j in enumerate(self.joints)}
        for a, b in self.limbs:
            if a not in index or b not in index:
                raise ValueError(f"skeleton {self.name!r}: limb ({a}, {b}) names an unknown joint")
        for j in self.joints:
            if _partner(j) not in index:
                raise ValueError(f"skeleton {self.name!r}: {j!r} has no partner {_partner(j)!r}")
        object.__setattr__(self, "_index", index)

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        """Position of a joint by canonical name (KeyError naming the skeleton if absent)."""
        try:
            return self._index[joint]
        except KeyError:
            raise KeyError(f"joint {joint!r} is not in skeleton {self.name!r}; "
                           f"it has {', '.join(self.joints)}") from None

    def __contains__(self, joint: str) -> bool:
        return joint in self._index

    @property
    def partners(self) -> tuple[str, ...]:
        """Left/right swap partner of each joint (itself for centre joints)."""
        return tuple(_partner(j) for j in self.joints)

    @property
    def flip_indices(self) -> np.ndarray:
        """Permutation that swaps left and right joints: ``flipped = joints[..., flip_indices, :]``."""
        return np.array([self._index[p] for p in self.partners], dtype=np.int64)

    @property
    def limb_indices(self) -> np.ndarray:
        """Limbs as an ``(L, 2)`` array of joint indices."""
        return np.array([[self._index[a], self._index[b]] for a, b in self.limbs], dtype=np.int64)

    @property
    def limb_sides(self) -> tuple[str, ...]:
        """``"left"``, ``"right"`` or ``"centre"`` per limb (a limb with one sided end takes it)."""
        sides = []
        for a, b in self.limbs:
            sa, sb = _side(a), _side(b)
            sides.append(sa if sa != "centre" else sb)
        return tuple(sides)

    @property
    def limb_colors(self) -> tuple[tuple[int, int, int], ...]:
        """RGB colour per limb: warm on the right, cool on the left, green in the centre."""
        counters = {"left": 0, "right": 0, "centre": 0}
        colours = []
        for side in self.limb_sides:
            shades = _SIDE_COLOURS[side]
            colours.append(shades[counters[side] % len(shades)])
            counters[side] += 1
        return tuple(colours)

    def flip(self, joints: np.ndarray, width: float | None = None) -> np.ndarray:
        """Mirror a pose left-right: swap partners and, if ``width`` is given, map x to ``width-1-x``.

        ``joints`` has shape ``(..., J, D)`` with x in the first coordinate (pixel centres at
        integers, so the mirror of x in an image ``width`` wide is ``width - 1 - x``).
        """
        joints = np.asarray(joints)
        if joints.shape[-2] != self.num_joints:
            raise ValueError(f"skeleton {self.name!r} has {self.num_joints} joints, "
                             f"got an array of shape {joints.shape}")
        out = joints[..., self.flip_indices, :].copy()
        if width is not None:
            out[..., 0] = (width - 1) - out[..., 0]
        return out


def _limbs(*pairs: str) -> tuple[tuple[str, str], ...]:
    return tuple(tuple(p.split("-")) for p in pairs)


_ARMS_LEGS = (
    "right_shoulder-right_elbow", "right_elbow-right_wrist",
    "left_shoulder-left_elbow", "left_elbow-left_wrist",
    "right_hip-right_knee", "right_knee-right_ankle",
    "left_hip-left_knee", "left_knee-left_ankle",
)

SEMI_DGPOSE14 = Skeleton(
    name="semi_dgpose14",
    joints=("head_top", "neck",
            "right_shoulder", "right_elbow", "right_wrist", "right_hip", "right_knee", "right_ankle",
            "left_shoulder", "left_elbow", "left_wrist", "left_hip", "left_knee", "left_ankle"),
    limbs=_limbs("head_top-neck", *_ARMS_LEGS,
                 "neck-right_shoulder", "neck-left_shoulder", "right_shoulder-right_hip",
                 "left_shoulder-left_hip", "right_hip-left_hip"),
    description="Semi-DGPose (ECCVW 2018, Appendix A): head top, neck, right {shoulder, elbow, "
                "wrist, hip, knee, ankle}, left {same}.",
)

LSP14 = Skeleton(
    name="lsp14",
    joints=("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
            "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
            "left_wrist", "neck", "head_top"),
    limbs=_limbs("head_top-neck", *_ARMS_LEGS,
                 "neck-right_shoulder", "neck-left_shoulder", "right_shoulder-right_hip",
                 "left_shoulder-left_hip", "right_hip-left_hip"),
    source_names=("Right ankle", "Right knee", "Right hip", "Left hip", "Left knee", "Left ankle",
                  "Right wrist", "Right elbow", "Right shoulder", "Left shoulder", "Left elbow",
                  "Left wrist", "Neck", "Head top"),
    description="Leeds Sports Pose (joints.mat). Person-centric left/right.",
)

MPII16 = Skeleton(
    name="mpii16",
    joints=("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
            "pelvis", "thorax", "neck", "head_top",
            "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
            "left_wrist"),
    limbs=_limbs("head_top-neck", "neck-thorax", "thorax-pelvis", *_ARMS_LEGS,
                 "thorax-right_shoulder", "thorax-left_shoulder", "pelvis-right_hip",
                 "pelvis-left_hip"),
    source_names=("r ankle", "r knee", "r hip", "l hip", "l knee", "l ankle", "pelvis", "thorax",
                  "upper neck", "head top", "r wrist", "r elbow", "r shoulder", "l shoulder",
                  "l elbow", "l wrist"),
    description="MPII Human Pose (ids 0-15). 'upper neck' is the canonical 'neck'.",
)

COCO17 = Skeleton(
    name="coco17",
    joints=("nose", "left_eye", "right_eye", "left_ear", "right_ear",
            "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
            "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
            "right_ankle"),
    limbs=_limbs("nose-left_eye", "nose-right_eye", "left_eye-left_ear", "right_eye-right_ear",
                 *_ARMS_LEGS, "left_shoulder-right_shoulder", "left_shoulder-left_hip",
                 "right_shoulder-right_hip", "left_hip-right_hip"),
    description="COCO person keypoints (17).",
)

OPENPOSE18 = Skeleton(
    name="openpose18",
    joints=("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
            "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
            "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear"),
    limbs=_limbs("nose-neck", "nose-right_eye", "nose-left_eye", "right_eye-right_ear",
                 "left_eye-left_ear", *_ARMS_LEGS, "neck-right_shoulder", "neck-left_shoulder",
                 "neck-right_hip", "neck-left_hip"),
    description="OpenPose COCO-18 order, as in the DeepFashion pose-transfer CSVs "
                "(Ma et al. 2017; Siarohin et al. 2018).",
)

ALPHAPOSE12 = Skeleton(
    name="alphapose12",
    joints=("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
            "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
            "right_ankle"),
    limbs=_limbs(*_ARMS_LEGS, "left_shoulder-right_shoulder", "left_shoulder-left_hip",
                 "right_shoulder-right_hip", "left_hip-right_hip"),
    description="AlphaPose body joints used by the pose-sequence AE-GAN thesis (Fig. 6a): the 12 "
                "COCO body keypoints (COCO ids 5-16) in COCO order, without the face.",
)

HALPE26 = Skeleton(
    name="halpe26",
    joints=COCO17.joints + ("head_top", "neck", "pelvis", "left_big_toe", "right_big_toe",
                            "left_small_toe", "right_small_toe", "left_heel", "right_heel"),
    limbs=COCO17.limbs + _limbs("head_top-neck", "neck-pelvis", "left_ankle-left_big_toe",
                                "right_ankle-right_big_toe", "left_ankle-left_heel",
                                "right_ankle-right_heel"),
    source_names=COCO17.joints + ("Head", "Neck", "Hip", "LBigToe", "RBigToe", "LSmallToe",
                                  "RSmallToe", "LHeel", "RHeel"),
    description="AlphaPose Halpe-26 (COCO 17 then head, neck, hip, big toes, small toes, heels). "
                "'Head' is the top of the head (canonical 'head_top'), 'Hip' the pelvis; the "
                "toes are kept apart from MPI-INF-3DHP's toe tips.",
)

OPENPOSE25 = Skeleton(
    name="openpose25",
    joints=("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
            "left_elbow", "left_wrist", "pelvis", "right_hip", "right_knee", "right_ankle",
            "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear",
            "left_ear", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
            "right_small_toe", "right_heel"),
    limbs=_limbs("nose-neck", *_ARMS_LEGS, "neck-right_shoulder", "neck-left_shoulder",
                 "neck-pelvis", "pelvis-right_hip", "pelvis-left_hip",
                 "left_ankle-left_big_toe", "right_ankle-right_big_toe"),
    description="OpenPose BODY_25 ('MidHip' is the canonical 'pelvis').",
)

OPENPOSE25B = Skeleton(
    name="openpose25b",
    joints=COCO17.joints + ("neck", "head_top", "left_big_toe", "left_small_toe", "left_heel",
                            "right_big_toe", "right_small_toe", "right_heel"),
    limbs=COCO17.limbs + _limbs("head_top-neck", "left_ankle-left_big_toe",
                                "right_ankle-right_big_toe", "left_ankle-left_heel",
                                "right_ankle-right_heel"),
    source_names=("Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow",
                  "RElbow", "LWrist", "RWrist", "LHip", "RHip", "LKnee", "RKnee", "LAnkle",
                  "RAnkle", "UpperNeck", "HeadTop", "LBigToe", "LSmallToe", "LHeel", "RBigToe",
                  "RSmallToe", "RHeel"),
    description="OpenPose BODY_25B (the experimental model Pose2Sim uses): COCO 17 first, then "
                "upper neck, head top, toes and heels. Same keypoint count as BODY_25 but "
                "another order: OpenPose files do not say which, so it is chosen by name.",
)

H36M17 = Skeleton(
    name="h36m17",
    joints=("pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
            "left_ankle", "spine", "thorax", "neck_nose", "head_top", "left_shoulder",
            "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist"),
    limbs=_limbs("pelvis-spine", "spine-thorax", "thorax-neck_nose", "neck_nose-head_top",
                 *_ARMS_LEGS, "thorax-right_shoulder", "thorax-left_shoulder",
                 "pelvis-right_hip", "pelvis-left_hip"),
    source_names=("Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax",
                  "Neck/Nose", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow",
                  "RWrist"),
    description="Human3.6M 17-joint subset of the 32 mocap joints (ids 0,1,2,3,6,7,8,12,13,14,"
                "15,17,18,19,25,26,27). 'Head' is the end of the head segment: canonical "
                "'head_top'. 'RFoot'/'LFoot' are the ankles.",
)

MPI_INF_3DHP28 = Skeleton(
    name="mpi_inf_3dhp28",
    joints=("spine3", "spine4", "spine2", "spine", "pelvis", "neck", "head", "head_top",
            "left_clavicle", "left_shoulder", "left_elbow", "left_wrist", "left_hand",
            "right_clavicle", "right_shoulder", "right_elbow", "right_wrist", "right_hand",
            "left_hip", "left_knee", "left_ankle", "left_foot", "left_toe",
            "right_hip", "right_knee", "right_ankle", "right_foot", "right_toe"),
    limbs=_limbs("pelvis-spine", "spine-spine2", "spine2-spine3", "spine3-spine4",
                 "spine4-neck", "neck-head", "head-head_top",
                 "spine4-left_clavicle", "left_clavicle-left_shoulder",
                 "spine4-right_clavicle", "right_clavicle-right_shoulder",
                 "left_wrist-left_hand", "right_wrist-right_hand",
                 "pelvis-left_hip", "pelvis-right_hip", *_ARMS_LEGS,
                 "left_ankle-left_foot", "left_foot-left_toe",
                 "right_ankle-right_foot", "right_foot-right_toe"),
    description="MPI-INF-3DHP training annotations (annot.mat, 28 joints, 'all_joint_names' "
                "order of the dataset's mpii_get_joint_set.m).",
)

MPI_INF_3DHP17 = Skeleton(
    name="mpi_inf_3dhp17",
    joints=("head_top", "neck", "right_shoulder", "right_elbow", "right_wrist",
            "left_shoulder", "left_elbow", "left_wrist", "right_hip", "right_knee",
            "right_ankle", "left_hip", "left_knee", "left_ankle", "pelvis", "spine", "head"),
    limbs=_limbs("head_top-head", "head-neck", "neck-spine", "spine-pelvis", *_ARMS_LEGS,
                 "neck-right_shoulder", "neck-left_shoulder", "pelvis-right_hip",
                 "pelvis-left_hip"),
    description="MPI-INF-3DHP test set / 'relevant' 17 joints (28-joint ids 8,6,15,16,17,10,11,"
                "12,24,25,26,19,20,21,5,4,7, 1-based).",
)

SYNTHETIC33 = Skeleton(
    name="synthetic33",
    joints=MPI_INF_3DHP28.joints + ("nose", "left_eye", "right_eye", "left_ear", "right_ear"),
    limbs=MPI_INF_3DHP28.limbs + _limbs("head-nose", "nose-left_eye", "nose-right_eye",
                                        "left_eye-left_ear", "right_eye-right_ear"),
    description="The synthetic people and motion of dgpose_tf.data: the 28 MPI-INF-3DHP joints "
                "(same order) followed by the COCO face points, so every other set is a subset "
                "or a named conversion.",
)

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (
    SEMI_DGPOSE14, LSP14, MPII16, COCO17, OPENPOSE18, OPENPOSE25, OPENPOSE25B, ALPHAPOSE12,
    HALPE26, H36M17,
    MPI_INF_3DHP28, MPI_INF_3DHP17, SYNTHETIC33)}


def list_skeletons() -> list[str]:
    return sorted(SKELETONS)


def get_skeleton(name: str | Skeleton) -> Skeleton:
    """Look a skeleton up by name (or pass one through)."""
    if isinstance(name, Skeleton):
        return name
    try:
        return SKELETONS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton {name!r}; known: {', '.join(list_skeletons())}") from None
