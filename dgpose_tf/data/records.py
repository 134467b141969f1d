"""The record every dataset loader returns."""

from __future__ import annotations

import functools
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..pose import conversion, get_skeleton

__all__ = ["PoseRecord", "to_skeleton"]


@dataclass
class PoseRecord:
    """One annotated person.

    ``joints`` are pixel coordinates ``(J, 2)`` with 0-based pixel centres (loaders convert
    MATLAB 1-based files), in ``skeleton`` order; ``visible`` marks joints that are annotated and
    usable; ``occluded`` (when the format says) marks annotated joints hidden in the image.
    """

    image: str
    joints: np.ndarray
    visible: np.ndarray
    skeleton: str
    occluded: np.ndarray | None = None
    joints3d: np.ndarray | None = None          # (J, 3), camera or world frame as documented
    camera: dict | None = None
    person_id: str | int | None = None
    extra: dict = field(default_factory=dict)  # format-specific: head_box, center, scale, …

    def __post_init__(self):
        n = get_skeleton(self.skeleton).num_joints
        self.joints = np.asarray(self.joints, np.float32)
        self.visible = np.asarray(self.visible, bool)
        if self.joints.shape != (n, 2) or self.visible.shape != (n,):
            raise ValueError(f"{self.image}: expected joints ({n}, 2) and visible ({n},) for "
                             f"{self.skeleton!r}, got {self.joints.shape} and {self.visible.shape}")


def to_skeleton(record: PoseRecord, skeleton: str) -> PoseRecord:
    """The record with its joints converted to another joint set (see :mod:`dgpose_tf.pose`)."""
    conv = conversion(record.skeleton, skeleton)
    joints, vis = conv(record.joints, record.visible)
    j3 = None if record.joints3d is None else conv(record.joints3d)[0]
    occ = None
    if record.occluded is not None:
        occ = (conv.matrix != 0).astype(float) @ record.occluded.astype(float) > 0
    return PoseRecord(record.image, joints, vis, skeleton, occ, j3, record.camera,
                      record.person_id, dict(record.extra))


def readable(what):
    """Decorator of a loader ``f(path, …)``: whatever a truncated or corrupt file makes the parser
    raise becomes a ``ValueError`` naming the file and what it should have been (a missing file
    stays a ``FileNotFoundError``)."""
    def wrap(loader):
        @functools.wraps(loader)
        def load(path, *args, **kwargs):
            try:
                return loader(path, *args, **kwargs)
            except FileNotFoundError:
                raise
            except (ValueError, KeyError, IndexError, TypeError, AttributeError, OSError,
                    EOFError, zipfile.BadZipFile) as exc:
                if isinstance(exc, ValueError) and str(Path(path)) in str(exc):
                    raise
                detail = f"no {exc} entry" if isinstance(exc, KeyError) else str(exc)
                raise ValueError(f"{path} is not a readable {what} (truncated or corrupt?): "
                                 f"{type(exc).__name__}: {detail}") from None
        return load
    return wrap
