"""
Integration tier: real hosts in containers, built from the local images that
tests/testbed/images.sh makes (debootstrap + docker import; nothing is pulled).
The fixtures start dockerd and build the images themselves when needed, so a
missing Docker fails loudly instead of skipping.
"""

import concurrent.futures
import fcntl
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from tests.support.cluster import CLUSTER_SLS, ENGINES_UID, start_cluster, use_project
from tests.support.containers import OTHER_RELEASE, TESTBED_DIR, Host, image, remove_all
from tests.support.tls import trust_host

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = image("base")
SALT_IMAGE = image("salt")
SYSTEMD_IMAGE = image("systemd")
KEEP = os.environ.get("WEBSTACK_KEEP_CONTAINERS") == "1"


# The tier's modules in this order: the fresh servers (fixture fresh_servers) bootstrap in
# the background from the start of the tier, while the bad-input cases (one salt-call at a
# time) leave a core free; their tests follow; the clusters come last (with xdist, Debian
# 13's runs in a lane of its own from the start: below). A module keeps its tests' order.
MODULE_ORDER = ("test_bad_input", "test_master_minion", "test_single", "test_privileges", "test_projects",
                "test_backup", "test_switch", "test_systemd", "test_debian12", "test_cluster_debian12",
                "test_cluster_engines", "test_cluster")


def _module_rank(item):
    if "/integration/" not in str(item.fspath):
        return (0, 0)
    name = Path(str(item.fspath)).stem
    return (1, MODULE_ORDER.index(name) if name in MODULE_ORDER else len(MODULE_ORDER))


# Two lanes, one per worker of pytest-xdist (make test: -n 2): test_cluster.py (Debian 13's
# cluster), and all the other tests (unit and functional first, Debian 12's smaller cluster
# last, started in the background as below). Each worker runs one lane, in the order
# above: the tests of a cluster wait on its orch.deploy and on its load while the other
# lane installs and applies states, so both cores stay busy. Measured on 2 cores with
# both clusters in one lane: that lane ended 2.6 min after the other. Without xdist, one
# process runs both, the hosts lane first.


def _lane(path):
    """The lane of a test, by its file (a path, or a test id)."""
    return "clusters" if Path(str(path).split("::", 1)[0]).stem == "test_cluster" else "hosts"


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist's scheduling by scope, each lane one scope: with two workers each gets one lane."""
    from xdist.scheduler import LoadScopeScheduling  # pylint: disable=import-outside-toplevel

    class LaneScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return _lane(nodeid)

    return LaneScheduling(config, log)


def pytest_collection_modifyitems(items):
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
    items.sort(key=_module_rank)  # stable: each module's own order stays


_MY_LANE = []  # in an xdist worker: the lane of the first test it ran


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item):
    if not _MY_LANE and hasattr(item.config, "workerinput"):
        _MY_LANE.append(_lane(item.fspath))


def _my_items(session):
    """The tests this process runs: all of them, or in an xdist worker those of its lane."""
    return [item for item in session.items if not _MY_LANE or _lane(item.fspath) == _MY_LANE[0]]


def _leftovers():
    """Remove this process's containers (left by an interrupted run, or at the end): every
    test container, or in an xdist worker only those of its lane: the clusters lane its
    clusters' (each also removes its own when it comes up and after its module), the hosts
    lane all but the other lane's clusters."""
    if not _MY_LANE:
        remove_all("webstack-test-")
    elif _MY_LANE[0] == "clusters":
        for name in sorted(_CLUSTERS_WANTED):
            remove_all(CLUSTERS[name]["prefix"])
    else:
        remove_all("webstack-test-", spare=tuple(spec["prefix"] for name, spec in CLUSTERS.items()
                                                 if name not in _CLUSTERS_WANTED))


# The clusters: fixture name -> how start_cluster makes it. They come up in the
# background from the first test of test_master_minion on (in an xdist worker: its lane's;
# the clusters lane's from its first test), once the bad-input cases and
# the fresh servers' first runs (which keep both cores busy) are over. Measured on 2
# cores: started there, the tier's modules reached test_debian12 at 23.8 min; started
# with test_single, whose tests apply states more than they wait, at 25.7 min (the
# master's highstate push is slower beside them, test_single twice as slow). Their
# fixtures wait for them; a run without those modules starts them when asked for.
def _engines_pillar(cluster):
    """The engines cluster's pillar, as its operator would write it: the noticeboard
    (NOTICEBOARD_SETTINGS: MariaDB, Memcached, RQ) from a git repository on the master,
    Varnish in front, Nginx as the load balancer, the app's uid fixed for the shared
    uploads (db1 is the storage node too)."""
    use_project(cluster.master, "noticeboard", project_repo("noticeboard"),
                dict(NOTICEBOARD_SETTINGS, varnish={"enabled": True},
                     app=dict(NOTICEBOARD_SETTINGS["app"], uid=ENGINES_UID)))
    text = cluster.master.exec(["cat", CLUSTER_SLS])[1]
    cluster.master.write_private(CLUSTER_SLS, text.replace("  lb:\n", "  lb:\n    engine: nginx\n", 1))


CLUSTERS = {
    "cluster": {"prefix": "webstack-test-c-"},
    # The other engines together (test_cluster_engines.py): MariaDB, Memcached and RQ beside
    # the broker's Redis, Nginx as the load balancer with Varnish in front, the uploads on
    # GlusterFS; the database, the cache and the storage on one node, RQ's worker beside an
    # app (4 minions)
    "engines": {"prefix": "webstack-test-e-", "prepare": _engines_pillar,
                "layout": {"db1": ["db", "cache", "storage"], "app1": ["app"], "app2": ["app", "worker"],
                           "lb1": ["lb"]}},
    # Debian 12 (test_cluster_debian12.py), its roles put together as a smaller team would: the
    # database and the cache on one node, the worker beside an app (4 minions, not 6)
    "cluster12": {"prefix": "webstack-test-d12-", "release": OTHER_RELEASE,
                  "layout": {"db1": ["db", "cache"], "app1": ["app", "worker"], "app2": ["app"], "lb1": ["lb"]}},
}
CLUSTERS_FROM = "test_master_minion"
_CLUSTERS_WANTED = set()
_TESTBED_READY = []  # not empty once the testbed fixture has run
_CLUSTER_FUTURES = {}
_CLUSTER_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=len(CLUSTERS))


def _start_clusters():
    for name in sorted(_CLUSTERS_WANTED - set(_CLUSTER_FUTURES)):
        _CLUSTER_FUTURES[name] = _CLUSTER_POOL.submit(start_cluster, timings=TIMINGS, keep=KEEP, **CLUSTERS[name])


@pytest.hookimpl(trylast=True)  # after the item's fixtures: the test bed is up
def pytest_runtest_setup(item):
    if _TESTBED_READY and _CLUSTERS_WANTED - set(_CLUSTER_FUTURES) \
            and _module_rank(item) >= (1, MODULE_ORDER.index(CLUSTERS_FROM)):
        _start_clusters()


def _cluster(name):
    """The cluster of fixture ``name``, up with its first orch.deploy done (started in the
    background, or now), removed after its module unless KEEP. The fixtures live here, not
    in the modules: a module that imports this file gets a second copy of its state."""
    _CLUSTERS_WANTED.add(name)
    _start_clusters()
    c = _CLUSTER_FUTURES[name].result()
    yield c
    if not KEEP:
        c.down()


@pytest.fixture(scope="module")
def cluster(testbed):
    """The cluster of `make demo` (test_cluster.py): a master and the six minions of
    pillar/webstack/nodes.yaml on Debian 13."""
    yield from _cluster("cluster")


@pytest.fixture(scope="module")
def cluster_engines(testbed):
    """The cluster of test_cluster_engines.py: a master and four minions on Debian 13, the
    noticeboard on MariaDB, Memcached and RQ, behind Varnish and Nginx."""
    yield from _cluster("engines")


@pytest.fixture(scope="module")
def cluster12(testbed):
    """The cluster of test_cluster_debian12.py: a master and four minions on Debian 12."""
    yield from _cluster("cluster12")


_FRESH_FUTURES = {}  # setup -> Future of _bootstrap_fresh, started by the testbed fixture


@pytest.fixture(scope="session")
def testbed(request):
    """dockerd and the package cache running, the images built (idempotent, cheap when done);
    the fresh servers bootstrapping in the background if a selected test needs them."""
    os.makedirs(TESTBED_DIR, exist_ok=True)
    with open(os.path.join(TESTBED_DIR, "testbed.lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other lane's worker waits: one dockerd, one cache
        subprocess.run(["bash", str(REPO / "tests/testbed/docker.sh"), "ensure"], check=True)
        subprocess.run(["bash", str(REPO / "tests/testbed/aptcache.sh"), "start"], check=True)
    subprocess.run(["bash", str(REPO / "tests/testbed/images.sh")], check=True)
    mine = _my_items(request.session)
    _CLUSTERS_WANTED.update(name for item in mine for name in CLUSTERS if name in item.fixturenames)
    _leftovers()
    _TESTBED_READY.append(True)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(FRESH_SERVERS))
    if any("fresh_servers" in item.fixturenames for item in mine):
        # a developer's run may name the setups it needs (WEBSTACK_FRESH_SERVERS=guestbook,linkboard)
        wanted = [n for n in os.environ.get("WEBSTACK_FRESH_SERVERS", "").split(",") if n] or list(FRESH_SERVERS)
        _FRESH_FUTURES.update({name: pool.submit(_bootstrap_fresh, name, FRESH_SERVERS[name]) for name in wanted})
    try:
        yield
    finally:
        # a bootstrap still running ends before its container goes; one not started never starts
        pool.shutdown(wait=True, cancel_futures=True)
        _CLUSTER_POOL.shutdown(wait=True, cancel_futures=True)
        if not KEEP:
            _leftovers()


TIMINGS = {}


@pytest.fixture(scope="session")
def timings():
    """Wall times (and counts) measured by the tests, shown in the terminal summary."""
    return TIMINGS


def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):  # an xdist worker hands its figures to the controller
        session.config.workeroutput["webstack_timings"] = dict(TIMINGS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):  # pylint: disable=unused-argument
    TIMINGS.update(getattr(node, "workeroutput", {}).get("webstack_timings", {}))


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.write_line(
            "webstack measured: " + ", ".join(f"{k}={v:.1f}" for k, v in TIMINGS.items()))


class Bootstrapped:
    """A fresh container after `./bootstrap.sh` ran in it, as docs/operations.md says."""

    def __init__(self, host, first_output, first_seconds, first_code=0, test_output="", test_code=0):
        self.host = host
        self.test_output = test_output  # `./bootstrap.sh --test`, run before the first bootstrap
        self.test_code = test_code
        self.first_output = first_output
        self.first_seconds = first_seconds
        self.first_code = first_code

    def run_bootstrap(self, *args):
        start = time.monotonic()
        code, out = self.host.exec("cd /root/webstack && ./bootstrap.sh " + " ".join(args), check=False,
                                   timeout=1800)
        return code, out, time.monotonic() - start


def local_pillar(settings):
    """The text of /etc/webstack/pillar/local.sls (the operator's own settings) for a mapping."""
    return yaml.safe_dump({"webstack": settings}, default_flow_style=False)


def write_local_pillar(host, settings):
    """Write the operator's settings where bootstrap.sh reads them (it never overwrites them)."""
    host.exec(["install", "-d", "-m", "0755", "/etc/webstack"])  # as bootstrap.sh makes it
    host.exec(["install", "-d", "-m", "0700", "/etc/webstack/pillar"])
    host.write_private("/etc/webstack/pillar/local.sls", local_pillar(settings))


PROJECTS = REPO / "tests" / "projects"
# The test projects' pillars: what their operators write in /etc/webstack/pillar/local.sls
# to deploy them as they are (git sources: /srv/git/<project>.git on the server).
GUESTBOOK_SETTINGS = {
    "app": {
        "source": "file:///srv/git/guestbook.git",
        "requirements": "requirements/production.txt",
        "wsgi_app": "config.wsgi:application",
        "django_settings_module": "config.settings.production",
        "celery_app": "config.celery_app",
        "health_path": "/",
        "static_root": "staticfiles",
        "media_root": "guestbook/media",
        "system_packages": ["libpq-dev"],
        "env_names": {"SECRET_KEY": "DJANGO_SECRET_KEY", "DEBUG": "DJANGO_DEBUG",
                      "ALLOWED_HOSTS": "DJANGO_ALLOWED_HOSTS", "CACHE_URL": "REDIS_URL",
                      "SECURE_SSL_REDIRECT": "DJANGO_SECURE_SSL_REDIRECT"},
        "secrets": {"DJANGO_ADMIN_URL": "staff-7c1e0a9d42/", "DJANGO_EMAIL_HOST_PASSWORD": "mail-Qx8vR2kLp9sW4tZ"},
    },
    "celery": {"beat": True, "beat_scheduler": "django_celery_beat.schedulers:DatabaseScheduler"},
}

# A Flask application (tests/projects/linkboard): FLASK_* settings, its own migrate command,
# no collectstatic, no task queue; under uWSGI (the guestbook runs under Gunicorn here and
# under mod_wsgi on the cluster: each WSGI server with a project that reads only its
# environment)
LINKBOARD_SETTINGS = {
    "wsgi": {"server": "uwsgi"},
    "app": {
        "source": "file:///srv/git/linkboard.git",
        "wsgi_app": "wsgi:app",
        "django_settings_module": "",
        "celery_app": "",
        "build_commands": [],
        "migrate_commands": ["python -m flask --app linkboard init-db"],
        "health_path": "/",
        "static_root": "linkboard/static",
        "env_names": {"SECRET_KEY": "FLASK_SECRET_KEY", "DATABASE_URL": "FLASK_SQLALCHEMY_DATABASE_URI",
                      "DEBUG": ""},
        "secrets": {"FLASK_MAIL_PASSWORD": "mail-Hn3sV8qWz1xK7pR"},
    },
}

# A Django project on MariaDB, Memcached and RQ (tests/projects/noticeboard: startproject's
# layout, django-environ, mysqlclient built against libmariadb-dev, django-rq, uploads), its
# settings under its own names, its static files from a CDN whose origin is Nginx
NOTICEBOARD_SETTINGS = {
    "db": {"engine": "mariadb"},
    "cache": {"engine": "memcached"},
    "rq": {"scheduler": True},
    "app": {
        "source": "file:///srv/git/noticeboard.git",
        "wsgi_app": "noticeboard.wsgi:application",
        "django_settings_module": "noticeboard.settings",
        "queue": "rq",
        "health_path": "/health/",
        "static_root": "staticfiles",
        "cdn_url": "https://cdn.example.org/static/",
        "env_names": {"SECRET_KEY": "DJANGO_SECRET_KEY", "DEBUG": "DJANGO_DEBUG",
                      "ALLOWED_HOSTS": "DJANGO_ALLOWED_HOSTS", "RQ_REDIS_URL": "REDIS_URL",
                      "STATIC_URL": "DJANGO_STATIC_URL",
                      "MEDIA_ROOT": "DJANGO_MEDIA_ROOT", "SECURE_SSL_REDIRECT": "DJANGO_SECURE_SSL_REDIRECT",
                      "SESSION_COOKIE_SECURE": "DJANGO_SESSION_COOKIE_SECURE",
                      "CSRF_COOKIE_SECURE": "DJANGO_CSRF_COOKIE_SECURE"},
    },
}


def project_repo(name):
    """tests/projects/<name> as its team keeps it: a bare git repository, one commit on main."""
    work = Path(tempfile.mkdtemp(prefix=f"webstack-{name}-"))
    git = ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.org", "-c", "init.defaultBranch=main"]
    subprocess.run(["cp", "-a", f"{PROJECTS / name}/.", str(work / "src")], check=True)
    subprocess.run(git + ["-C", str(work / "src"), "init", "-q"], check=True)
    subprocess.run(git + ["-C", str(work / "src"), "add", "-A"], check=True)
    subprocess.run(git + ["-C", str(work / "src"), "commit", "-q", "-m", "Initial commit"], check=True)
    subprocess.run(git + ["clone", "-q", "--bare", str(work / "src"), str(work / f"{name}.git")], check=True)
    return work / f"{name}.git"


# Fresh servers, one per setup, bootstrapped at once (in threads: each waits on its own
# container) the first time a test asks for one. Gunicorn, the default, starts from the
# bare base image (Salt included in the bootstrap); uWSGI and mod_wsgi from the image with
# Salt preinstalled; `systemd` boots systemd as PID 1 and starts without Salt. Each runs
# `./bootstrap.sh --test` first, on the fresh server, to compare with the real first run
# (unless its spec says predict: False).
FRESH_SERVERS = {
    "gunicorn": {"image": BASE_IMAGE, "settings": None},
    "uwsgi": {"image": SALT_IMAGE, "settings": {"wsgi": {"server": "uwsgi"}}},
    # Apache also as a CDN's origin (app:cdn_url)
    "mod_wsgi": {"image": SALT_IMAGE, "settings": {"wsgi": {"server": "mod_wsgi"},
                                                   "app": {"cdn_url": "https://cdn.example.org/static/"}}},
    "systemd": {"image": SYSTEMD_IMAGE, "systemd": True, "cap_add": ["NET_ADMIN"],  # its master's firewall
                "settings": {"process_manager": "systemd", "wsgi": {"server": "uwsgi"}}},
    # the other release: the default setup (test_debian12.py), from its image with Salt
    # (built by `bootstrap.sh --salt-only`: Salt's install from a bare image is shown there
    # on Debian 12, and by the gunicorn server on Debian 13)
    OTHER_RELEASE: {"image": image("salt", OTHER_RELEASE), "settings": None},
    # a project as its authors wrote it (tests/projects/guestbook), by pillar alone
    # (their tests read no prediction: --test is shown by the others, the noticeboard's included)
    # with its single server's continuous backups (tests/integration/test_backup.py restores them)
    "guestbook": {"image": SALT_IMAGE, "settings": dict(GUESTBOOK_SETTINGS, backup={"enabled": True}),
                  "project": "guestbook", "predict": False},
    "linkboard": {"image": SALT_IMAGE, "settings": LINKBOARD_SETTINGS, "project": "linkboard", "predict": False},
    # under systemd, as a server that boots it would run it (RQ's worker a unit; the engines
    # cluster runs the same project's RQ under Supervisord)
    "noticeboard": {"image": SYSTEMD_IMAGE, "systemd": True, "project": "noticeboard",
                    "settings": dict(NOTICEBOARD_SETTINGS, process_manager="systemd")},
}


def _bootstrap_fresh(name, spec):
    host = Host.start(spec["image"], name=f"webstack-test-single-{name.replace('_', '-')}", publish=(80, 443),
                      hostname="single1", systemd=spec.get("systemd", False), cap_add=spec.get("cap_add", ()))
    host.put_dir(str(REPO), "/root/webstack")
    if spec.get("project"):
        host.put_dir(str(project_repo(spec["project"])), f"/srv/git/{spec['project']}.git")
    if spec["settings"]:
        write_local_pillar(host, spec["settings"])
    # What the operator would look at first: the prediction (it installs Salt where the
    # image has none, and changes nothing else), then the real run.
    test_code, test_out = None, ""
    if spec.get("predict", True):
        test_code, test_out = host.exec("cd /root/webstack && ./bootstrap.sh --test", check=False, timeout=1800)
    start = time.monotonic()
    code, out = host.exec("cd /root/webstack && ./bootstrap.sh", check=False, timeout=1800)
    if code == 0:
        trust_host(host)  # the self-signed certificate the formula made: what a user would trust
    return Bootstrapped(host, out, time.monotonic() - start, code, test_out, test_code)


@pytest.fixture(scope="session")
def fresh_servers(testbed, timings):
    """{setup: Bootstrapped} for every setup of FRESH_SERVERS (started by the testbed fixture)."""
    assert _FRESH_FUTURES, "the testbed fixture started no fresh server"
    servers = {}
    errors = []
    for name, future in _FRESH_FUTURES.items():
        try:
            servers[name] = future.result()
            timings[f"bootstrap_first_{name}"] = servers[name].first_seconds
        except Exception as exc:  # pylint: disable=broad-except
            errors.append(f"{name}: {exc}")
    try:
        assert not errors, "starting the fresh servers failed:\n" + "\n".join(errors)
        yield servers
    finally:
        if not KEEP:
            for server in servers.values():
                server.host.remove()


def bootstrapped(fresh_servers, name):
    """The fresh server ``name`` (FRESH_SERVERS), after a first `./bootstrap.sh` that succeeded."""
    server = fresh_servers[name]
    assert server.first_code == 0, f"./bootstrap.sh exited {server.first_code}:\n{server.first_output[-6000:]}"
    return server


@pytest.fixture(scope="module", params=["gunicorn", "uwsgi", "mod_wsgi"])
def single_server(request, fresh_servers):
    """Role single with each WSGI server, after a first `./bootstrap.sh` that succeeded."""
    server = fresh_servers[request.param]
    server.wsgi = request.param
    assert server.first_code == 0, f"./bootstrap.sh ({request.param}) exited {server.first_code}:\n" \
                                   f"{server.first_output[-6000:]}"
    return server
