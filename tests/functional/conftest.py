"""
Functional tests: the repo's ``_modules`` and ``_states`` through the real Salt
loader (``saltfactories.utils.functional.Loaders``), no mocks.

The minion config comes from ``salt_factories`` (nothing is started): a local
file client whose ``file_roots`` is a temp dir the tests fill with sources, and
``module_dirs`` pointing at the repo root, from which the loader picks up the
in-tree ``_modules``, ``_states`` and ``_utils`` directories. The formula's state
tree is the second file root, so that ``salt://webstack/parameters`` resolves.
"""

import pathlib
import shutil

import pytest
from saltfactories.utils.functional import Loaders

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def state_tree(tmp_path_factory):
    """The ``base`` file root: tests put their salt:// sources here."""
    path = tmp_path_factory.mktemp("state-tree")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def minion_config_overrides():
    """Extra minion options for one test module (override in the module)."""
    return {}


@pytest.fixture(scope="module")
def minion_opts(salt_factories, state_tree, minion_config_overrides):
    overrides = {
        "file_client": "local",
        # the tests' sources, then the formula's state tree (its parameters/schema.yaml)
        "file_roots": {"base": [str(state_tree), str(REPO / "salt")]},
        # <repo>/_modules, _states and _utils: the loader looks for "_<type>" in each
        "module_dirs": [str(REPO)],
        # new files under the file root must show at once (TESTBED pitfall 10)
        "fileserver_list_cache_time": 0,
        "disable_modules": ["systemd_service"],  # TESTBED pitfall 2
    }
    overrides.update(minion_config_overrides)
    factory = salt_factories.salt_minion_daemon("functional-minion", overrides=overrides)
    return factory.config.copy()


@pytest.fixture(scope="module")
def loaders(minion_opts):
    return Loaders(minion_opts, loaded_base_name=f"{__name__}.loaded")


@pytest.fixture(autouse=True)
def reset_loaders_state(loaders):
    try:
        yield
    finally:
        loaders.reset_state()


@pytest.fixture
def modules(loaders):
    return loaders.modules


@pytest.fixture
def states(loaders):
    return loaders.states


@pytest.fixture(params=[False, True], ids=["apply", "test"])
def testmode(request):
    """Run a state for real, then again with ``test=True``."""
    return request.param
