"""Model families, one module each: ``semi_dgpose``, ``conditional_dgpose``,
``pose_sequence_aegan`` (with ``inpainting`` beside it), ``vunet`` (with ``stickman`` and
``perceptual`` beside it) and ``mirrornet`` (with its curriculum, ``mirrornet_curriculum``).

:func:`get_family` maps a family name (as in training configs and zoo cards) to its Keras model
class without importing the other families.
"""

import importlib

from .._lazy import lazy_submodules

_SUBMODULES = ("semi_dgpose", "conditional_dgpose", "pose_sequence_aegan", "inpainting", "vunet",
               "stickman", "perceptual", "mirrornet", "mirrornet_curriculum")
__getattr__ = lazy_submodules(__name__, _SUBMODULES)

FAMILIES = {"semi_dgpose": ("semi_dgpose", "SemiDGPose"),
            "conditional_dgpose": ("conditional_dgpose", "ConditionalDGPose"),
            "pose_sequence_aegan": ("pose_sequence_aegan", "PoseSequenceAEGAN"),
            "vunet": ("vunet", "VUNet"),
            "mirrornet": ("mirrornet", "MirrorNet")}


def get_family(name):
    """The model class of a family name, e.g. ``get_family("semi_dgpose")`` → ``SemiDGPose``."""
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}; known: {', '.join(sorted(FAMILIES))}")
    module, cls = FAMILIES[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def build_model(family, config=None, weights=None):
    """A built model of ``family`` from its constructor ``config``, with ``weights`` (a Keras
    ``.weights.h5`` file) loaded if given."""
    from pathlib import Path

    model = get_family(family).from_config(dict(config or {}))
    model.build()
    if weights is not None:
        if not Path(weights).is_file():
            raise FileNotFoundError(f"weights file not found: {weights}")
        model.load_weights(str(weights))
    return model
