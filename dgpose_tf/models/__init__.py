"""Model families: one module each (``semi_dgpose`` so far)."""

from .._lazy import lazy_submodules

_SUBMODULES = ("semi_dgpose",)
__getattr__ = lazy_submodules(__name__, _SUBMODULES)
