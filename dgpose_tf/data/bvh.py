"""Biovision BVH motion capture: parse any skeleton, run its forward kinematics, and map it to the
``synthetic33`` joints by a name table (the CMU table is included), giving the same
``(T, 33, 3)`` world sequences as :mod:`dgpose_tf.data.motion` (metres, y up, NaN for joints the
table does not map) so that they can be projected, windowed and corrupted the same way.

Conventions: each joint's rotation channels are applied in the order listed (``Zrotation
Xrotation Yrotation`` means ``R = Rz·Rx·Ry``), a child sits at ``parent + R_parent·offset``, and
root position channels are added to the root offset. ``End Site`` points are named
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

__all__ = ["BVH", "parse_bvh", "load_bvh", "CMU_TABLE", "to_synthetic"]

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
                pos[:, j] = pos[:, p] + np.einsum("fij,fj->fi", rot[:, p], self.offsets[j] + t)
                rot[:, j] = rot[:, p] @ R
        return pos

    def rest_positions(self) -> np.ndarray:
        """Positions ``(J, 3)`` with every channel zero."""
        zero = BVH(self.names, self.parents, self.offsets, self.channels, self.frame_time,
                   np.zeros((1, self.motion.shape[1])))
        return zero.positions()[0]


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

    ``complete`` (default: with the CMU table) places the points CMU's skeleton has no point of
    its own for — the pelvis on the hip line, the spine's zero-length joints, clavicles, and the
    zero-length end sites (head top, hands, toes) — with the synthetic body's proportions
    (:func:`dgpose_tf.data.body.complete_from_anatomy`).
    """
    complete = table is None if complete is None else complete
    table = CMU_TABLE if table is None else table
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
