"""
The formula's configuration modules wired together for unit tests, as Salt's loader
wires them: ``webstack_pillar`` and ``webstack_config`` (execution modules) over the
``webstack_schema`` utility, sharing one ``__context__``, with the repo's
``salt/webstack/parameters`` served as ``salt://webstack/parameters`` and a mine
that answers what a test gives it.
"""

import copy

from tests.support.loader import REPO, load

schema_util = load("utils", "webstack_schema")
envfile_util = load("utils", "webstack_envfile")
cron_util = load("utils", "webstack_cron")
config_mod = load("modules", "webstack_config")
pillar_mod = load("modules", "webstack_pillar")

# __utils__ as the loader gives it to a module: the utility's functions by name
UTILS = {f"{util.__name__.split('_', 2)[2]}.{name}": getattr(util, name)
         for util in (schema_util, envfile_util, cron_util) for name in dir(util)
         if not name.startswith("_") and callable(getattr(util, name))
         and getattr(getattr(util, name), "__module__", None) == util.__name__}
GRAINS = {"id": "single1", "os_family": "Debian", "osfinger": "Debian-12", "num_cpus": 2, "fqdn": "single1"}


def get_file_str(path, saltenv="base"):  # signature of cp.get_file_str; pylint: disable=unused-argument
    """cp.get_file_str for the repo's state tree: the file's text, or False."""
    try:
        return (REPO / "salt" / path[len("salt://"):]).read_text()
    except FileNotFoundError:
        return False


def loader_modules(pillar, grains=None, mine=None, salt=None):
    """``configure_loader_modules`` dunders for the three modules, sharing ``__context__``
    and ``__salt__``. ``mine``: what ``mine.get`` answers; ``salt``: more functions."""
    context = {}
    funcs = {"cp.get_file_str": get_file_str, "mine.get": lambda *_a, **_k: copy.deepcopy(mine or {})}
    for mod, names in ((config_mod, ("get", "merged", "parameters", "build_user")),
                       (pillar_mod, ("validate", "public", "front"))):
        for name in names:
            funcs[f"{mod.__virtualname__}.{name}"] = getattr(mod, name)
    funcs.update(salt or {})
    dunders = {"__utils__": dict(UTILS), "__salt__": funcs, "__context__": context, "__pillar__": pillar,
               "__grains__": dict(grains or GRAINS), "__opts__": {"test": False}}
    return {config_mod: dict(dunders), pillar_mod: dict(dunders)}
