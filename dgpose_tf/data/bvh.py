"""Biovision BVH motion capture: parse any skeleton, run its forward kinematics, and map it to the
``synthetic33`` joints by a name table (the CMU table is included), giving the same
``(T, 33, 3)`` world sequences as :mod:`dgpose_tf.data.motion` (metres, y up, NaN for joints the
table does not map) so that they can be projected, windowed and corrupted the same way.

Conventions: each joint's rotation channels are applied in the order listed (``Zrotation
Xrotation Yrotation`` means ``R = Rz·Rx·Ry``), a child sits at ``parent + R_parent·offset``, and
root position channels are added to the root offset. A non-root joint with position channels
(Bandai-Namco's files give every joint six) sits at those positions instead of its offset: the
channels hold the bone itself (they equal the offset in still poses), so adding them would double
every bone; its rest position is its offset. ``End Site`` points are named
``<parent>_end``. Units are the file's; :func:`to_synthetic` scales to metres either by
``units_per_metre`` or, by default, so that the rest skeleton (all rotations zero) is ``height``
metres tall, because BVH files do not state their unit.

CMU's conversion has zero-length joints and end sites (LowerBack, Neck, LeftShoulder,
LeftFingerBase, Head's and the toes' end sites) and its root lies ~10 cm above the hip joints;
mapped one to one, the head top would sit on the head, the hands on the wrists and the pelvis above
the hips. With the CMU table, :func:`to_synthetic` therefore places those points with the
synthetic body's proportions (:func:`dgpose_tf.data.body.complete_from_anatomy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import body as B

__all__ = ["BVH", "parse_bvh", "load_bvh", "CMU_TABLE", "BANDAI_TABLE", "POSER_TABLE", "TABLES",
           "table_for", "to_synthetic"]

#: synthetic33 joint -> BVH joint name in the CMU conversion (Hips, LeftUpLeg, …)
CMU_TABLE = {
    "pelvis": "Hips", "spine": "LowerBack", "spine2": "Spine", "spine3": "Spine1",
    "spine4": "Neck", "neck": "Neck1", "head": "Head", "head_top": "Head_end",
    **{f"{s}_{j}": f"{S}{n}" for s, S in (("left", "Left"), ("right", "Right"))
       for j, n in (("clavicle", "Shoulder"), ("shoulder", "Arm"), ("elbow", "ForeArm"),
                    ("wrist", "Hand"), ("hand", "FingerBase"), ("hip", "UpLeg"),
                    ("knee", "Leg"), ("ankle", "Foot"), ("foot", "ToeBase"))},
    "left_toe": "LeftToeBase_end", "right_toe": "RightToeBase_end",
}

#: synthetic33 joint -> BVH joint of the Bandai-Namco Research Motion dataset (22 joints, cm,
#: y up). Its spine has three joints for our five (duplicates take no length when
#: :func:`~dgpose_tf.data.body.complete_from_anatomy` lays the chain out); head top, hands and
#: toes are zero-length end sites, placed with the synthetic body's proportions as for CMU.
BANDAI_TABLE = {
    "pelvis": "Hips", "spine": "Spine", "spine2": "Spine", "spine3": "Chest", "spine4": "Chest",
    "neck": "Neck", "head": "Head", "head_top": "Head_end",
    **{f"{s}_{j}": f"{n}_{S}" for s, S in (("left", "L"), ("right", "R"))
       for j, n in (("clavicle", "Shoulder"), ("shoulder", "UpperArm"), ("elbow", "LowerArm"),
                    ("wrist", "Hand"), ("hip", "UpperLeg"), ("knee", "LowerLeg"),
                    ("ankle", "Foot"), ("foot", "Toes"))},
    **{f"{s}_{j}": f"{n}_{S}_end" for s, S in (("left", "L"), ("right", "R"))
       for j, n in (("hand", "Hand"), ("toe", "Toes"))},
}

#: synthetic33 joint -> BVH joint of Poser-style files (``hip``, ``abdomen``, ``chest``,
#: ``rCollar`` …; e.g. the CMU pieces of the auto-conditioned RNN's training data). The head has
#: no end site above it and the hand none beyond the wrist: both map onto their parent, so that
#: :func:`~dgpose_tf.data.body.complete_from_anatomy` places them with the synthetic body's
#: proportions; the foot's end site stands for the ball of the foot and the toe is placed beyond
#: it likewise.
POSER_TABLE = {
    "pelvis": "hip", "spine": "abdomen", "spine2": "abdomen", "spine3": "chest",
    "spine4": "chest", "neck": "neck", "head": "head", "head_top": "head",
    **{f"{s}_{j}": f"{S}{n}" for s, S in (("left", "l"), ("right", "r"))
       for j, n in (("clavicle", "Collar"), ("shoulder", "Shldr"), ("elbow", "ForeArm"),
                    ("wrist", "Hand"), ("hand", "Hand"), ("hip", "Thigh"), ("knee", "Shin"),
                    ("ankle", "Foot"), ("foot", "Foot_end"), ("toe", "Foot_end"))},
}

#: the tables :func:`table_for` chooses among, by the joints a file has
TABLES = {"cmu": CMU_TABLE, "bandai": BANDAI_TABLE, "poser": POSER_TABLE}
#: file units per metre where a dataset states them (Bandai-Namco: centimetres; its rest pose,
#: every rotation zero, lies on its side, so the rest-height rule would misjudge it)
UNITS_PER_METRE = {"bandai": 100.0}


def table_for(bvh):
    """The name and table of :data:`TABLES` that maps the most of ``bvh``'s joints (ties: the
    first, CMU); ``ValueError`` if none maps any."""
    names = set(bvh.names)
    mapped = {k: sum(v in names for v in set(t.values())) for k, t in TABLES.items()}
    best = max(mapped, key=mapped.get)
    if not mapped[best]:
        raise ValueError(f"no joint-name table fits this BVH (its joints: "
                         f"{', '.join(bvh.names[:10])}, …); known: {', '.join(TABLES)}")
    return best, TABLES[best]


@dataclass
class BVH:
    names: list            # joints and end sites, parents before children
    parents: np.ndarray    # -1 for the root
    offsets: np.ndarray    # (J, 3)
    channels: list         # per joint: list of channel names (empty for end sites)
    frame_time: float
    motion: np.ndarray     # (F, total channels)

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def positions(self) -> np.ndarray:
        """World positions ``(F, J, 3)`` in the file's units."""
        F = len(self.motion)
        pos = np.zeros((F, len(self.names), 3))
        rot = np.zeros((F, len(self.names), 3, 3))
        col = 0
        for j, chans in enumerate(self.channels):
            values = self.motion[:, col:col + len(chans)]
            col += len(chans)
            R = np.broadcast_to(np.eye(3), (F, 3, 3)).copy()
            t = np.zeros((F, 3))
            for k, ch in enumerate(chans):
                axis = "XYZ".index(ch[0].upper())
                if ch.lower().endswith("position"):
                    t[:, axis] = values[:, k]
                else:
                    R = R @ _axis_rotation(axis, values[:, k])
            p = self.parents[j]
            if p < 0:
                pos[:, j] = self.offsets[j] + t
                rot[:, j] = R
            else:
                bone = t if _has_position(chans) else np.broadcast_to(self.offsets[j], t.shape)
                pos[:, j] = pos[:, p] + np.einsum("fij,fj->fi", rot[:, p], bone)
                rot[:, j] = rot[:, p] @ R
        return pos

    def rest_positions(self) -> np.ndarray:
        """Positions ``(J, 3)`` with every rotation zero, the root at its offset and every
        other joint at its offset (its position channels, if any, set to it)."""
        rest = np.zeros((1, self.motion.shape[1]))
        col = 0
        for j, chans in enumerate(self.channels):
            for k, ch in enumerate(chans):
                if self.parents[j] >= 0 and ch.lower().endswith("position"):
                    rest[0, col + k] = self.offsets[j]["XYZ".index(ch[0].upper())]
            col += len(chans)
        zero = BVH(self.names, self.parents, self.offsets, self.channels, self.frame_time, rest)
        return zero.positions()[0]


def _has_position(channels):
    return any(c.lower().endswith("position") for c in channels)


def _axis_rotation(axis, degrees):
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    R = np.zeros(a.shape + (3, 3))
    i, j = [k for k in range(3) if k != axis]
    R[..., axis, axis] = 1
    R[..., i, i], R[..., j, j] = c, c
    R[..., i, j], R[..., j, i] = -s, s
    if axis == 1:                          # y: keep the right-handed sign
        R[..., i, j], R[..., j, i] = s, -s
    return R


def parse_bvh(text: str, source="<string>") -> BVH:
    tokens = text.split()
    names, parents, offsets, channels = [], [], [], []
    stack, i = [], 0

    def expect(word):
        nonlocal i
        if i >= len(tokens) or tokens[i] != word:
            found = tokens[i] if i < len(tokens) else "end of file"
            raise ValueError(f"{source}: expected {word!r}, found {found!r}")
        i += 1

    expect("HIERARCHY")
    while i < len(tokens) and tokens[i] != "MOTION":
        word = tokens[i]
        if word in ("ROOT", "JOINT", "End"):
            if word == "End":
                name = names[stack[-1]] + "_end"
                i += 2
            else:
                name = tokens[i + 1]
                i += 2
            parents.append(stack[-1] if stack else -1)
            names.append(name)
            expect("{")
            expect("OFFSET")
            offsets.append([float(v) for v in tokens[i:i + 3]])
            i += 3
            chans = []
            if i < len(tokens) and tokens[i] == "CHANNELS":
                n = int(tokens[i + 1])
                chans = tokens[i + 2:i + 2 + n]
                i += 2 + n
            channels.append(chans)
            stack.append(len(names) - 1)
        elif word == "}":
            stack.pop()
            i += 1
        else:
            raise ValueError(f"{source}: unexpected {word!r} in HIERARCHY")
    expect("MOTION")
    expect("Frames:")
    n_frames = int(tokens[i])
    i += 1
    expect("Frame")
    expect("Time:")
    frame_time = float(tokens[i])
    i += 1
    n_chan = sum(len(c) for c in channels)
    values = np.array(tokens[i:], float)
    if values.size != n_frames * n_chan:
        raise ValueError(f"{source}: MOTION has {values.size} values, expected {n_frames} frames "
                         f"x {n_chan} channels")
    return BVH(names, np.array(parents), np.array(offsets, float), channels, frame_time,
               values.reshape(n_frames, n_chan))


def load_bvh(path) -> BVH:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"BVH file not found: {path}")
    return parse_bvh(path.read_text(), str(path))


def to_synthetic(bvh: BVH, table=None, units_per_metre=None, height=1.75, complete=None):
    """``(F, 33, 3)`` synthetic33 joints in metres (NaN where ``table`` has no entry).

    ``table`` default: the one of :data:`TABLES` that fits the file (:func:`table_for`).
    ``complete`` (default: with a table chosen so) places the points a motion-capture skeleton
    has no point of its own for — the pelvis on the hip line, the spine's zero-length joints,
    clavicles, and the zero-length end sites (head top, hands, toes) — with the synthetic body's
    proportions (:func:`dgpose_tf.data.body.complete_from_anatomy`).
    """
    if table is None:
        name, table = table_for(bvh)
        complete = True if complete is None else complete
        units_per_metre = units_per_metre or UNITS_PER_METRE.get(name)
    complete = bool(complete)
    index = {n: k for k, n in enumerate(bvh.names)}
    unknown = sorted(set(table.values()) - set(index))
    if len(unknown) == len(set(table.values())):
        raise ValueError(f"none of the table's joints are in this BVH (it has "
                         f"{', '.join(bvh.names[:8])}, …); pass a table for its naming")
    if units_per_metre is None:
        rest = bvh.rest_positions()
        units_per_metre = (rest[:, 1].max() - rest[:, 1].min()) / height
    pos = bvh.positions() / units_per_metre
    out = np.full((len(pos), B.SKELETON.num_joints, 3), np.nan)
    for joint, name in table.items():
        if name in index:
            out[:, B.SKELETON.index(joint)] = pos[:, index[name]]
    return B.complete_from_anatomy(out) if complete else out
