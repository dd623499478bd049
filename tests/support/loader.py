"""Import the repo's custom Salt modules as plain Python modules, for unit tests."""

import importlib.util
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def load(kind, name):
    """Import ``_<kind>/<name>.py`` (execution and state modules share file names)."""
    modname = f"webstack_{kind}_{name}"
    if modname not in sys.modules:
        spec = importlib.util.spec_from_file_location(modname, REPO / f"_{kind}" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[modname] = module
        spec.loader.exec_module(module)
    return sys.modules[modname]
