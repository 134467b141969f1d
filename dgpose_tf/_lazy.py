"""Lazy submodule import, so that importing a package does not import TensorFlow."""

import importlib


def lazy_submodules(package: str, names):
    """A module ``__getattr__`` that imports ``package.<name>`` on first access."""

    def __getattr__(name):
        if name in names:
            module = importlib.import_module(f".{name}", package)
            setattr(importlib.import_module(package), name, module)
            return module
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
