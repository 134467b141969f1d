"""The model zoo: cards, verified files, one-call loading.

A **card** (``zoo/<name>.json``, or ``$DGPOSE_HOME/cards/<name>.json`` for models users register)
is the single source of truth of an entry: family, paper, data, input spec, skeleton,
constructor config, metrics with the command that produced them, the training command, and the
files with their sha256 and size. Files live in a **model folder** laid out as TF Serving
expects::

    <name>/<version>/saved_model.pb, variables/…      the SavedModel (named signatures)
    <name>/keras-<version>.weights.h5                  Keras weights (fine-tuning)

Cards are found in the package (``dgpose_tf/cards``, built from ``zoo/`` into a wheel), or in
``zoo/`` of a checkout, and in ``$DGPOSE_HOME/cards``. Resolution order of a model folder (the
keras-hub / timm pattern): an explicit ``path`` → ``$DGPOSE_HOME/<name>`` (default
``~/.cache/dgpose``) → the bundled ``saved_models/<name>`` of a checkout (or
``$DGPOSE_SAVED_MODELS/<name>``) → a download from ``$DGPOSE_MIRROR/<name>/`` or else the card's
``url``, into a temporary folder, sha256-verified and renamed into ``$DGPOSE_HOME/<name>``.
Local files need no network; a read-only cache is only read. Every file is checked against the
card's sha256 before loading.

Errors are :class:`ZooError` subclasses that name the problem: :class:`UnknownModelError`
(suggests close names), :class:`NoWeightsError` (prints the command that trains them),
:class:`ChecksumError`, :class:`IncompleteModelError`, :class:`InvalidNameError` (names are
lower-case words; nothing like ``../x`` or an absolute path reaches the file system).
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import os
import re
import shutil
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

__all__ = ["list_models", "info", "load", "register", "write_entry", "home", "ZooModel",
           "SequenceZooModel", "VUNetZooModel",
           "ZooError", "UnknownModelError", "NoWeightsError", "ChecksumError",
           "IncompleteModelError", "InvalidNameError"]

REPO = Path(__file__).resolve().parents[1]          # a checkout, when this is one
# the cards: package data in an installed wheel, zoo/ in a checkout (editable install)
BUNDLED_CARDS = next((p for p in (Path(__file__).resolve().parent / "cards", REPO / "zoo")
                      if p.is_dir()), REPO / "zoo")
BUNDLED_MODELS = Path(os.environ.get("DGPOSE_SAVED_MODELS", REPO / "saved_models"))
_NAME = re.compile(r"[a-z0-9][a-z0-9_\-]{0,99}")


class ZooError(Exception):
    """Base class of the zoo's errors."""


class UnknownModelError(ZooError, KeyError):
    def __str__(self):
        return self.args[0]


class NoWeightsError(ZooError):
    pass


class ChecksumError(ZooError):
    pass


class IncompleteModelError(ZooError):
    pass


class InvalidNameError(ZooError, ValueError):
    pass


def home():
    """``$DGPOSE_HOME`` or ``~/.cache/dgpose``: user cards and downloaded/registered files."""
    return Path(os.environ.get("DGPOSE_HOME", "~/.cache/dgpose")).expanduser()


def _check_name(name):
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidNameError(f"invalid model name {name!r}: names are lower-case letters, "
                               "digits, '_' and '-' (no paths)")
    return name


def _card_files():
    """``{name: card path}``; user cards override bundled ones of the same name."""
    found = {}
    for folder in (BUNDLED_CARDS, home() / "cards"):
        if folder.is_dir():
            for p in sorted(folder.glob("*.json")):
                if _NAME.fullmatch(p.stem):
                    found[p.stem] = p
    return found


def list_models(pattern="*"):
    """Names of the zoo entries matching a shell pattern, sorted."""
    return sorted(n for n in _card_files() if fnmatch.fnmatchcase(n, pattern))


def info(name):
    """The card of an entry (a dict, freshly read)."""
    _check_name(name)
    cards = _card_files()
    if name not in cards:
        close = difflib.get_close_matches(name, list(cards), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(f"no zoo entry {name!r}{hint} (dgpose zoo list shows all)")
    card = json.loads(cards[name].read_text())
    card["_card"] = str(cards[name])
    return card


def sha256(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _needed(card, fmt):
    """Relative paths (inside the model folder) of the files ``fmt`` needs (an entry whose card
    says ``"keras_weights": "saved_model"`` ships no Keras file: its Keras model takes the
    SavedModel's variables)."""
    version = str(card["version"])
    if fmt == "keras" and card.get("keras_weights") == "saved_model":
        fmt = "saved_model"
    prefix = f"{version}/" if fmt == "saved_model" else f"keras-{version}.weights.h5"
    return sorted(f for f in card.get("files", {}) if f.startswith(prefix) or f == prefix)


def _verify(folder, card, files):
    for rel in files:
        p = folder / rel
        want = card["files"][rel]["sha256"]
        got = sha256(p)
        if got != want:
            raise ChecksumError(f"checksum mismatch for {p}: expected sha256 {want}, got {got}. "
                                "The file is corrupt or was changed; delete the folder "
                                f"{folder} and load again (or re-run the training command).")


def _download(card, files, dest):
    """Fetch ``files`` from the card's url into ``dest`` atomically: into a temporary folder,
    verify, then rename each top-level item into place."""
    url = card["url"].rstrip("/")
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=dest))
    try:
        for rel in files:
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with urllib.request.urlopen(f"{url}/{rel}") as r, open(target, "wb") as f:
                shutil.copyfileobj(r, f)
        _verify(tmp, card, files)
        for top in sorted({rel.split("/")[0] for rel in files}):
            if not (dest / top).exists():
                os.replace(tmp / top, dest / top)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _resolve(card, fmt, path=None):
    """The verified model folder holding ``fmt``'s files."""
    name = card["name"]
    files = _needed(card, fmt)
    if not files:
        cmd = card.get("training", {}).get("command", f"dgpose train training/configs/{name}.json")
        raise NoWeightsError(
            f"{name!r} has no {fmt} files in its card: no weights are shipped for this entry "
            f"(its data is licensed). Train them with:\n    {cmd}\nthen register the run:\n"
            f"    dgpose zoo register RUN_DIR --name {name}\n"
            f"after which dgpose_tf.zoo.load({name!r}) finds them; "
            f"load({name!r}, format='keras', weights=None) gives the untrained model.")
    candidates = [Path(path)] if path is not None else [home() / name, BUNDLED_MODELS / name]
    for folder in candidates:
        present = [f for f in files if (folder / f).is_file()]
        if not present:
            continue
        if len(present) != len(files):
            missing = sorted(set(files) - set(present))
            raise IncompleteModelError(f"{folder} is incomplete for {name!r} ({fmt}): missing "
                                       f"{', '.join(missing)}; delete it and load again")
        _verify(folder, card, files)
        return folder
    url = _url(card)
    if path is None and url:
        try:
            _download({**card, "url": url}, files, home() / name)
        except OSError as exc:        # URLError, HTTPError, a full disk: nothing kept
            raise IncompleteModelError(
                f"could not fetch {name!r} from {url}: {getattr(exc, 'reason', exc)}. Check the "
                "address ($DGPOSE_MIRROR or the card's url) or copy the model folder into "
                f"{home() / name}") from None
        return home() / name
    where = " or ".join(str(c) for c in candidates)
    raise IncompleteModelError(f"no files of {name!r} found in {where}" +
                               ("" if url else " and neither the card nor $DGPOSE_MIRROR gives "
                                               "a url"))


def _url(card):
    """Where an entry's model folder can be downloaded: ``$DGPOSE_MIRROR/<name>`` (a mirror of
    a ``saved_models/`` folder: an http(s) or file URL), else the card's ``url``."""
    mirror = os.environ.get("DGPOSE_MIRROR")
    if mirror:
        return f"{mirror.rstrip('/')}/{card['name']}"
    return card.get("url")


def load(name, version=None, format="saved_model", weights="pretrained", path=None):
    """A loaded zoo model.

    ``format="saved_model"`` (default): a :class:`ZooModel` whose methods are the signatures.
    ``format="keras"``: the Keras model rebuilt from the card's config with the weights loaded
    (``weights=None``: untrained). ``path``: a model folder to use instead of the search.
    """
    card = info(name)
    if version is not None and int(version) != int(card["version"]):
        raise NoWeightsError(f"{name!r} has version {card['version']}, not {version}")
    below = card.get("below_trivial")
    if below and weights == "pretrained":
        import warnings
        warnings.warn(f"{name!r} is experimental: it does not beat the answer that needs no model "
                      f"on {', '.join(below)} (see its card's metrics)", UserWarning, stacklevel=2)
    if format not in ("saved_model", "keras"):
        raise ValueError(f"format must be 'saved_model' or 'keras', got {format!r}")
    if weights not in ("pretrained", None):
        raise ValueError("weights must be 'pretrained' or None")
    if format == "keras":
        from .models import build_model

        if weights is None:
            return build_model(card["family"], card["config"])
        folder = _resolve(card, "keras", path)
        if card.get("keras_weights") == "saved_model":
            model = build_model(card["family"], card["config"])
            assign_saved_model_variables(model, folder / str(card["version"]))
            return model
        return build_model(card["family"], card["config"],
                           folder / f"keras-{card['version']}.weights.h5")
    if weights is None:
        raise ValueError("an untrained model has no SavedModel: use format='keras', weights=None")
    folder = _resolve(card, "saved_model", path)
    cls = {"pose_sequence_aegan": SequenceZooModel, "vunet": VUNetZooModel}.get(
        card.get("family"), ZooModel)
    return cls(folder / str(card["version"]), card)


class ZooModel:
    """A SavedModel from the zoo: each signature is a method taking numpy arrays or tensors
    (positionally in the card's order, or by name) and returning a dict of numpy arrays.
    Inputs are checked (shape, dtype, value range, NaN/inf) before the graph runs.
    ``.signatures`` gives the raw concrete functions; ``.card`` the card."""

    def __init__(self, directory, card):
        import tensorflow as tf

        self.directory, self.card = Path(directory), card
        self.saved_model = tf.saved_model.load(str(directory))
        self.signatures = self.saved_model.signatures
        self.name = card["name"]

    def __repr__(self):
        return f"<ZooModel {self.name} v{self.card['version']}: {', '.join(self.methods)}>"

    @property
    def methods(self):
        return sorted(k for k in self.signatures if k != "serving_default")

    def __dir__(self):
        return list(super().__dir__()) + self.methods

    def __getattr__(self, name):
        if name.startswith("_") or name not in self.__dict__.get("signatures", {}):
            raise AttributeError(f"{type(self).__name__} {self.__dict__.get('name')!r} has no "
                                 f"attribute or signature {name!r}")
        return self._signature_method(name)

    def _signature_method(self, signature):
        """The signature as a method with its real parameters and a docstring, so ``help()``
        and IDEs show what it takes and returns."""
        import inspect

        fn = self.signatures[signature]
        specs = fn.structured_input_signature[1]
        order = self.card.get("signatures", {}).get(signature, {}).get("inputs", sorted(specs))
        outputs = sorted(fn.structured_outputs)
        ranges = self.card.get("input", {}).get("ranges", {})

        def method(*args, **kwargs):
            return self._run(signature, *args, **kwargs)

        method.__name__ = method.__qualname__ = signature
        method.__signature__ = inspect.Signature(
            [inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD) for k in order])
        lines = [f"The {self.name!r} SavedModel's {signature!r} signature.", "", "Inputs:"]
        for k in order:
            spec = specs[k]
            shape = "scalar" if spec.shape.rank == 0 else \
                "(" + ", ".join("N" if d is None else str(d) for d in spec.shape) + ")"
            rng = f", values in {ranges[k]}" if k in ranges else ""
            lines.append(f"    {k}: {shape} {spec.dtype.name}{rng}")
        lines += ["", f"Returns a dict of numpy arrays: {', '.join(outputs)}."]
        method.__doc__ = "\n".join(lines)
        return method

    def pose_photos(self, photos, boxes=None, skeleton=None):
        """Joints of the person in each photo, in the photo's pixels (x right, y down).

        ``photos``: file paths or ``H × W × 3`` uint8 arrays of any size (grey and RGBA are
        converted). ``boxes``: ``(N, 4)`` x, y, w, h picking each person, else the whole photo is
        the person's crop. ``skeleton``: a joint set to convert to (default: the entry's).
        Returns ``{"joints": (N, J, 2), "confidence": (N, J) in [0, 1], "skeleton": name,
        "sizes": (N, 2)}``; :class:`dgpose_tf.data.photos.PhotoError` names bad input."""
        from .photo_api import pose_photos
        return pose_photos(self, photos, boxes=boxes, skeleton=skeleton)

    def _run(self, signature, *args, **kwargs):
        import tensorflow as tf

        fn = self.signatures[signature]
        specs = fn.structured_input_signature[1]
        order = self.card.get("signatures", {}).get(signature, {}).get("inputs", sorted(specs))
        if len(args) > len(order):
            raise TypeError(f"{signature}() takes {len(order)} inputs ({', '.join(order)}), "
                            f"got {len(args)}")
        given = dict(zip(order, args))
        for k, v in kwargs.items():
            if k in given:
                raise TypeError(f"{signature}() got {k!r} twice")
            given[k] = v
        missing = [k for k in order if k not in given]
        unknown = [k for k in given if k not in specs]
        if missing or unknown:
            raise TypeError(f"{signature}() needs {', '.join(order)}"
                            + (f"; missing {', '.join(missing)}" if missing else "")
                            + (f"; unknown {', '.join(unknown)}" if unknown else ""))
        ranges = self.card.get("input", {}).get("ranges", {})
        batch = next((np.shape(given[k])[0] for k in order if specs[k].shape.rank
                      and np.ndim(given[k]) == specs[k].shape.rank), None)
        for k in order:                       # a number where one per example is wanted
            if specs[k].shape.rank == 1 and specs[k].shape[0] is None and np.ndim(given[k]) == 0 \
                    and batch is not None:
                given[k] = np.full((batch,), given[k], specs[k].dtype.as_numpy_dtype)
        feed = {k: tf.convert_to_tensor(_check_input(signature, k, given[k], specs[k],
                                                     ranges.get(k))) for k in order}
        return {k: v.numpy() for k, v in fn(**feed).items()}


class SequenceZooModel(ZooModel):
    """A pose-sequence AE-GAN from the zoo: the signatures, plus :meth:`inpaint` taking detector
    output in any joint set (the SavedModel's ``inpaint`` signature wants the 28 joints)."""

    def inpaint(self, joints, visible=None, skeleton="alphapose12", shift=1, steps=200,
                mode="refine", threshold=0.0, learning_rate=None, prior_weight=None, seen=None,
                coordinates="image", bridge=None):
        """``joints`` (T, J, 2|3) of ``skeleton``, any units, in image coordinates (x right, y
        down, as detectors write; ``coordinates="y_up"`` for motion-capture projections) →
        ``{"joints": (T, 28, 2) MPI-INF-3DHP joints in the same frame, "observed": (T, 28)
        bool}``; see :func:`dgpose_tf.models.inpainting.inpaint` (the same graph).
        ``learning_rate``, ``prior_weight`` and ``seen`` ("closest" | "mean": what a frame with observed joints
        gets) and ``bridge`` (fill mode's continuity at the edges of unobserved stretches,
        :func:`~dgpose_tf.models.inpainting.bridge_residuals`) default to the card's
        ``inpainting`` settings (else the thesis's 1.0, 0.5, "closest" and no bridge)."""
        rec = self.card.get("inpainting", {})
        lr = rec.get("learning_rate", 1.0) if learning_rate is None else learning_rate
        prior = rec.get("prior_weight", 0.5) if prior_weight is None else prior_weight
        seen = rec.get("seen", "closest") if seen is None else seen
        bridge = bool(rec.get("bridge", False) if bridge is None else bridge)
        from .models.inpainting import (SEEN_RULES, InpaintingError, check_coordinates,
                                        to_model_joints, window_starts)

        check_coordinates(coordinates)

        if mode not in ("refine", "fill"):
            raise InpaintingError(f"mode must be 'refine' or 'fill', got {mode!r}")
        if seen not in SEEN_RULES:
            raise InpaintingError(f"seen must be one of {SEEN_RULES}, got {seen!r}")
        extra, inputs = (), self.signatures["inpaint"].structured_input_signature[1]
        if "average_seen" in inputs:
            extra = (np.bool_(seen == "mean"),)
        elif seen != "closest":
            raise InpaintingError(f"{self.name} version {self.card.get('version')}'s inpaint "
                                  f"signature has the closest-candidate rule only")
        if "bridge" in inputs:
            extra += (np.bool_(bridge),)
        elif bridge:
            raise InpaintingError(f"{self.name} version {self.card.get('version')}'s inpaint "
                                  f"signature has no bridge input")
        if int(steps) < 0:
            raise InpaintingError(f"steps must be ≥ 0, got {steps}")
        x, m = to_model_joints(joints, visible, skeleton, threshold)
        window_starts(len(x), shift=int(shift))
        # the signature's convention: image coordinates from version 4 on (the card says so);
        # earlier versions' signatures took the model's own frame, y up
        mirror = np.float32([1, 1 if coordinates == self.signature_coordinates else -1])
        out = self._run("inpaint", x * mirror, m, np.int32(shift), np.int32(steps),
                        np.bool_(mode == "fill"), np.float32(lr), np.float32(prior), *extra)
        return {"joints": out["joints"] * mirror, "observed": m > 0}

    @property
    def signature_coordinates(self):
        """The 2-D convention of the ``inpaint`` signature's joints (the card's
        ``input.coordinates``): ``"image"`` (x right, y down), or ``"y_up"`` for old cards."""
        return self.card.get("input", {}).get("coordinates", "y_up")


class VUNetZooModel(ZooModel):
    """A VUNet from the zoo: the signatures (``transfer``, ``reconstruct``, ``sample``,
    ``stickman``), plus :meth:`pose_inputs` to feed them from any named joint set."""

    def pose_inputs(self, joints, skeleton="synthetic33", visible=None):
        """``(joints13, valid13)`` for the signatures from ``joints`` ``(N, J, 2)`` pixels of
        ``skeleton`` (missing joints: NaN or ``visible`` False)."""
        from .pose.three_layer import stick_joints

        j, v = stick_joints(joints, skeleton, visible)
        return j, v.astype(np.float32)


def _check_input(signature, name, value, spec, value_range):
    arr = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
    want = spec.dtype.as_numpy_dtype
    if np.issubdtype(want, np.floating):
        if not (np.issubdtype(arr.dtype, np.floating)):
            hint = " (images are floats in [-1, 1]: x / 127.5 - 1)" if arr.dtype == np.uint8 else ""
            raise TypeError(f"{signature}: {name} must be a float array, got {arr.dtype}{hint}")
        if not np.isfinite(arr).all():
            raise ValueError(f"{signature}: {name} contains NaN or inf")
    elif np.issubdtype(want, np.integer):
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{signature}: {name} must be an integer"
                            f"{' scalar' if spec.shape.rank == 0 else ''}, got {arr.dtype} "
                            f"{arr.shape}")
    shape = spec.shape
    if arr.ndim != shape.rank or any(d is not None and d != a for d, a in zip(shape, arr.shape)):
        dims = ", ".join("batch" if d is None else str(d) for d in shape)
        raise ValueError(f"{signature}: {name} must have shape ({dims}), got {arr.shape}")
    if value_range is not None and arr.size and (arr.min() < value_range[0] - 1e-6 or
                                                 arr.max() > value_range[1] + 1e-6):
        raise ValueError(f"{signature}: {name} values must lie in [{value_range[0]}, "
                         f"{value_range[1]}], got [{arr.min():.3g}, {arr.max():.3g}]")
    return arr.astype(want, copy=False)


def assign_saved_model_variables(model, directory):
    """Give a built Keras model the weights of a SavedModel exported from the same architecture
    (:func:`dgpose_tf.serving.export`): each weight is found by its path inside the model (the
    model's own name left out), shapes checked."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(directory))
    inner = lambda name: name.split(":")[0].split("/", 1)[-1]
    # float16 storage (serving.export(storage="float16")) names each copy by the weight's path
    # with "__" for "/"
    saved = {inner(v.name.replace("__", "/")): v for v in getattr(loaded, "_all_variables", [])}
    for w in model.weights:
        key = inner(w.path)
        if key not in saved:
            raise IncompleteModelError(f"{directory} has no variable {key!r} of this model")
        if tuple(saved[key].shape) != tuple(w.shape):
            raise IncompleteModelError(f"{directory}: {key} has shape {tuple(saved[key].shape)}, "
                                       f"the model's {tuple(w.shape)}")
        value = saved[key].numpy()
        if value.dtype == np.int16 and w.dtype == "float32":      # float16 storage's bits
            value = value.view(np.float16)
        w.assign(np.asarray(value, w.dtype))
    return model


# --- writing entries --------------------------------------------------------------------------
def write_entry(model, card, base, keras_file=True, track=None, storage="float32"):
    """Export ``model`` into the model folder ``<base>/<name>`` (SavedModel + Keras weights) and
    return the card completed with its ``files`` (sha256, size) and ``signatures``.
    ``keras_file=False``: no Keras weights file (``"keras_weights": "saved_model"`` in the card:
    ``load(format="keras")`` takes the SavedModel's variables, matched by name) — half the size.
    ``track`` (default ``keras_file``): whether the SavedModel also tracks the Keras model's
    variable list (:func:`dgpose_tf.serving.export`); ``keras_file=True, track=False`` holds each
    variable once in each file, for models whose TF variable names do not carry their paths.
    ``storage="float16"``: the SavedModel's weights stored as float16 (card ``storage``); use it
    with ``keras_file=False`` (one half-size copy)."""
    from .serving import export

    name = _check_name(card["name"])
    version = int(card.get("version", 1))
    folder = Path(base) / name
    if (folder / str(version)).exists():
        raise FileExistsError(f"{folder / str(version)} exists; remove it or bump the version")
    folder.mkdir(parents=True, exist_ok=True)
    export(model, folder / str(version), track=keras_file if track is None else track,
           storage=storage)
    weights = folder / f"keras-{version}.weights.h5"
    if keras_file:
        tmp = folder / f".partial-keras-{version}.weights.h5"
        model.save_weights(str(tmp))
        os.replace(tmp, weights)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and (
        p == weights or p.relative_to(folder).parts[0] == str(version)))
    card = {k: v for k, v in card.items() if not k.startswith("_")}
    card["version"] = version
    card.pop("keras_weights", None)
    card["storage"] = storage
    if not keras_file:
        card["keras_weights"] = "saved_model"
    card["files"] = {str(p.relative_to(folder)): {"sha256": sha256(p), "size": p.stat().st_size}
                     for p in files}
    from .serving import endpoints_of
    endpoints = endpoints_of(model)
    card["signatures"] = {k: {"inputs": [s.name for s in spec]} for k, (_, spec) in
                          endpoints.items()}
    card["signatures"]["serving_default"] = card["signatures"][model.SERVING_DEFAULT]
    return card


def register(run_dir, name=None, overwrite=False):
    """Register a finished training run (``config.json`` + weights) as a zoo entry in
    ``$DGPOSE_HOME``: exports its files there and writes its card, after which
    ``load(name)`` finds it. Starts from the bundled card of the same name if there is one."""
    from .fit import load_run

    model, config = load_run(run_dir)
    name = _check_name(name or config.get("name"))
    try:
        card = info(name)
    except UnknownModelError:
        card = {"name": name}
    card.update(name=name, family=config["family"], config=dict(config["model"]),
                training={**card.get("training", {}), "run": str(Path(run_dir).resolve())})
    card.setdefault("version", 1)
    card.pop("url", None)
    target = home() / name
    if target.exists():
        if not overwrite:
            raise FileExistsError(f"{target} exists; pass overwrite=True (--overwrite) to "
                                  "replace it")
        shutil.rmtree(target)
    card = write_entry(model, card, home())
    cards = home() / "cards"
    cards.mkdir(parents=True, exist_ok=True)
    tmp = cards / f".{name}.json.partial"
    tmp.write_text(json.dumps(card, indent=1))
    os.replace(tmp, cards / f"{name}.json")
    return card
