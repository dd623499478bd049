"""
Nothing of the project's code runs as root, on a real host: the default setup's fresh
server (role single, Gunicorn), built and deployed again by `./bootstrap.sh` after its
operator added a build command, with a `sitecustomize.py` planted beforehand in every
directory that the app's user can write (what a compromised app, or anyone who can drop
a file among the uploads, would do). The build runs as the build user, nothing runs as
root from what the app's user wrote, and the live release is root's: the app's user
cannot change it.
"""

import pytest
import yaml

from tests.integration.conftest import bootstrapped, local_pillar
from tests.support.single import APP

PILLAR = "/etc/webstack/pillar/local.sls"
RECORDS = "/var/tmp/planted-ran"
# What the planted file does when a Python process imports it: note who ran it, and what
SITECUSTOMIZE = f"""\
import os, sys
try:
    with open(os.path.join({RECORDS!r}, f"{{os.getuid()}}-{{os.getpid()}}"), "w") as fh:
        fh.write(" ".join(sys.argv))
except OSError:
    pass
"""
# where the app's user can write, on each filesystem a process may take code from
ROOTS = ("/", "/tmp", "/var/tmp", "/dev/shm", "/run", f"/srv/{APP}/shared/media")
BUILD_UID = "python -c \"import os; open('build-uid', 'w').write(str(os.getuid()))\""


@pytest.fixture(scope="module")
def server(fresh_servers):
    return bootstrapped(fresh_servers, "gunicorn")


def _writable_dirs(host):
    _, out = host.exec(["runuser", "-u", APP, "--", "find", *ROOTS, "-xdev", "-type", "d", "-writable",
                        "-not", "-path", RECORDS], check=False)
    return sorted({line for line in out.splitlines() if line.startswith("/")})


@pytest.fixture(scope="module")
def planted(server):
    """sitecustomize.py, written by the app's user into every directory it can write; each
    Python process that imports one leaves a record (its uid) in RECORDS. Removed after."""
    host = server.host
    host.exec(["install", "-d", "-m", "1777", RECORDS])
    host.exec(["sh", "-c", f"cat > {RECORDS}.py <<'EOF'\n{SITECUSTOMIZE}EOF\nchmod 644 {RECORDS}.py"])
    dirs = _writable_dirs(host)
    host.exec(["runuser", "-u", APP, "--", "sh", "-c",
               " ".join(f"cp {RECORDS}.py {d}/sitecustomize.py;" for d in dirs)])
    try:
        yield dirs
    finally:
        host.exec(["sh", "-c", " ".join(f"rm -f {d}/sitecustomize.py;" for d in dirs)
                   + f" rm -rf {RECORDS} {RECORDS}.py"])


def _records(host):
    _, out = host.exec(["sh", "-c", f"cd {RECORDS} && for f in *; do [ -e \"$f\" ] && echo \"$f $(cat \"$f\")\"; "
                                    "done; true"])
    return [line for line in out.splitlines() if line.strip()]


def test_a_build_and_a_deploy_run_nothing_as_root_and_leave_a_release_the_app_cannot_change(server, planted):
    host = server.host
    media = f"/srv/{APP}/shared/media"
    assert media in planted and "/tmp" in planted and f"/srv/{APP}/run" in planted, planted
    # the control: a planted file runs in a Python process that has its directory on its path
    host.exec(["runuser", "-u", APP, "--", "env", f"PYTHONPATH={media}", "python3", "-c", "pass"])
    _, app_uid = host.exec(["id", "-u", APP])
    assert [r for r in _records(host) if r.startswith(f"{app_uid.strip()}-")], _records(host)
    host.exec(["sh", "-c", f"rm -f {RECORDS}/*"])

    _, text = host.exec(["cat", PILLAR])
    original = yaml.safe_load(text)["webstack"] or {}
    app = dict(original.get("app") or {})
    app["build_commands"] = ["python manage.py collectstatic --noinput", BUILD_UID]
    host.write_private(PILLAR, local_pillar({**original, "app": app}))
    try:
        _, before = host.exec(f"readlink /srv/{APP}/current")
        code, out, _ = server.run_bootstrap()
        assert code == 0, out[-4000:]
        _, after = host.exec(f"readlink /srv/{APP}/current")
        assert after != before, "the build command changes the release: a new one is built and deployed"

        _, build_uid = host.exec(["id", "-u", f"{APP}-build"])
        _, written = host.exec(f"cat /srv/{APP}/current/src/build-uid")
        assert written == build_uid.strip() != "0"
        assert [r for r in _records(host) if r.startswith("0-")] == [], "root ran a file the app's user wrote"

        # the live release is root's, and nobody else may write any of it
        _, owners = host.exec(["find", f"/srv/{APP}/current/", "-not", "-user", "root", "-o", "-not", "-type", "l",
                               "-perm", "/022"])
        assert owners.strip() == "", owners[:2000]
        for target in ("src/manage.py", "venv/bin/python", "static", "src", "venv/lib"):
            code, out = host.exec(["runuser", "-u", APP, "--", "sh", "-c",
                                   f"touch /srv/{APP}/current/{target}/new 2>&1 || "
                                   f"echo x >> /srv/{APP}/current/{target}"], check=False)
            assert code != 0 and "Permission denied" in out, (target, out)
    finally:
        host.write_private(PILLAR, text)
    # back: the release built before is switched to again, nothing is built
    code, out, _ = server.run_bootstrap()
    assert code == 0, out[-4000:]
    _, current = host.exec(f"readlink /srv/{APP}/current")
    assert current == before
