"""
Unit tests of the release layout functions of ``_modules/webstack_release.py``
(list, current, activate, prune, info) on a real directory tree in tmp_path,
with release directories fabricated the way ``build`` leaves them.
"""

import json
import os
import subprocess
import threading
import time
from unittest.mock import patch

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.config import UTILS
from tests.support.loader import load as _load

rel = _load("modules", "webstack_release")

R1 = "20261120T090000Z-0000aaaa"
R2 = "20261121T090000Z-1111bbbb"
R3 = "20261122T090000Z-2222cccc"
R4 = "20261123T090000Z-3333dddd"
R5 = "20261124T090000Z-4444eeee"
UNFINISHED = "20261125T090000Z-5555ffff"


@pytest.fixture
def configure_loader_modules():
    return {rel: {"__opts__": {"test": False}, "__salt__": {}, "__utils__": UTILS}}


def _release(base, release_id, finished=True):
    path = base / "releases" / release_id
    (path / "src").mkdir(parents=True)
    (path / "RELEASE").write_text(release_id + "\n")
    if finished:
        (path / "release.json").write_text(json.dumps({"id": release_id, "fingerprint": "f" + release_id[-8:]}))
    return path


def _point(base, release_id):
    link = base / "current"
    if link.is_symlink():
        link.unlink()
    link.symlink_to(os.path.join("releases", release_id))


@pytest.fixture
def base(tmp_path):
    base = tmp_path / "srv" / "webapp"
    for release_id in (R3, R1, R5, R2, R4):  # created out of order on purpose
        _release(base, release_id)
    _release(base, UNFINISHED, finished=False)
    (base / "releases" / "not-a-release").mkdir()
    (base / "releases" / "20261126T090000Z-ZZZZ").mkdir()  # not a valid id
    return base


def test_list_returns_finished_releases_oldest_first(base):
    assert rel.list_(str(base)) == [R1, R2, R3, R4, R5]


def test_list_of_missing_base_dir_is_empty(tmp_path):
    assert rel.list_(str(tmp_path / "nowhere")) == []
    assert rel.current(str(tmp_path / "nowhere")) is None


def test_info_reads_release_json_and_ignores_unfinished_or_corrupt(base):
    assert rel.info(str(base), R2) == {"id": R2, "fingerprint": "f1111bbbb"}
    assert rel.info(str(base), UNFINISHED) is None
    (base / "releases" / R3 / "release.json").write_text("{not json")
    assert rel.info(str(base), R3) is None
    assert R3 not in rel.list_(str(base))


def test_current_follows_the_symlink(base):
    assert rel.current(str(base)) is None
    _point(base, R2)
    assert rel.current(str(base)) == R2
    # an absolute link target works too
    (base / "current").unlink()
    (base / "current").symlink_to(base / "releases" / R3)
    assert rel.current(str(base)) == R3


def test_current_that_is_not_a_release_link_is_none(base):
    (base / "current").symlink_to("/etc")
    assert rel.current(str(base)) is None
    (base / "current").unlink()
    (base / "current").mkdir()  # a directory, not a link
    assert rel.current(str(base)) is None


def test_activate_switches_and_returns_previous(base):
    assert rel.activate(str(base), R1) is None
    assert os.readlink(base / "current") == "releases/" + R1
    assert rel.activate(str(base), R4) == R1
    assert rel.current(str(base)) == R4
    assert (base / "current" / "RELEASE").read_text() == R4 + "\n"
    # no temporary link left behind; the activations noted
    assert sorted(p.name for p in base.iterdir()) == ["current", "history", "releases"]
    assert rel.history(str(base)) == [R1, R4]


def test_activate_replaces_the_link_by_rename_never_removes_it(base):
    _point(base, R1)
    link = str(base / "current")
    real_replace = os.replace
    with patch.object(rel.os, "unlink", wraps=os.unlink) as unlink, \
            patch.object(rel.os, "remove", wraps=os.remove) as remove, \
            patch.object(rel.os, "replace", wraps=real_replace) as replace:
        rel.activate(str(base), R2)
    assert all(c.args[0] != link for c in unlink.call_args_list + remove.call_args_list)
    ((src, dst), _), = [c for c in replace.call_args_list if c.args[1] == link]
    assert os.path.dirname(src) == str(base)  # same filesystem: rename(2) is atomic
    assert rel.current(str(base)) == R2


def test_activate_never_leaves_current_missing_for_a_reader(base):
    _point(base, R1)
    link = str(base / "current")
    stop = threading.Event()
    seen, missing = set(), []

    def reader():
        while not stop.is_set():
            try:
                seen.add(os.readlink(link))
            except FileNotFoundError:
                missing.append(1)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(150):
            rel.activate(str(base), R2)
            rel.activate(str(base), R1)
    finally:
        stop.set()
        thread.join(10)
    assert missing == []
    assert seen <= {"releases/" + R1, "releases/" + R2}


def test_activate_replaces_a_stale_temporary_link(base):
    stale = base / f".current.{os.getpid()}"
    stale.symlink_to("releases/" + R1)
    rel.activate(str(base), R3)
    assert rel.current(str(base)) == R3
    assert not os.path.lexists(stale)


@pytest.mark.parametrize("release_id", [UNFINISHED, "20261231T000000Z-9999aaaa"])
def test_activate_refuses_unfinished_or_missing_release(base, release_id):
    _point(base, R2)
    with pytest.raises(CommandExecutionError, match="is not a finished release"):
        rel.activate(str(base), release_id)
    assert rel.current(str(base)) == R2


@pytest.mark.parametrize(
    "release_id",
    ["../../../etc", "latest", "", "20261120T090000Z-0000AAAA", "20261120T090000Z-0000aaaa/../x",
     "20261120T090000Z-0000aaa"],
)
def test_invalid_release_ids_are_rejected(base, release_id):
    _point(base, R2)
    with pytest.raises(CommandExecutionError, match="expected YYYYmmddTHHMMSSZ-<8 hex>"):
        rel.activate(str(base), release_id)
    with pytest.raises(CommandExecutionError, match="expected YYYYmmddTHHMMSSZ-<8 hex>"):
        rel.run_commands(str(base), release_id, ["true"])
    with pytest.raises(CommandExecutionError, match="expected YYYYmmddTHHMMSSZ-<8 hex>"):
        rel.info(str(base), release_id)
    assert rel.current(str(base)) == R2


def test_prune_keeps_newest_and_removes_unfinished(base):
    _point(base, R5)
    removed = rel.prune(str(base), keep=2)
    assert removed == {"removed": sorted([R1, R2, R3, UNFINISHED]), "failed": {}}
    assert sorted(p.name for p in (base / "releases").iterdir()) == sorted(
        [R4, R5, "not-a-release", "20261126T090000Z-ZZZZ"]
    )
    assert rel.current(str(base)) == R5


def test_prune_never_removes_the_current_release(base):
    _point(base, R1)  # rolled back to the oldest
    removed = rel.prune(str(base), keep=1)["removed"]
    assert R1 not in removed
    assert removed == sorted([R2, R3, R4, UNFINISHED])
    assert rel.list_(str(base)) == [R1, R5]
    assert (base / "current" / "release.json").is_file()


def test_prune_with_fewer_releases_than_keep_only_drops_unfinished(base):
    _point(base, R3)
    assert rel.prune(str(base), keep=10) == {"removed": [UNFINISHED], "failed": {}}
    assert rel.list_(str(base)) == [R1, R2, R3, R4, R5]


def test_prune_of_missing_base_dir_is_empty(tmp_path):
    assert rel.prune(str(tmp_path / "nowhere"), keep=3) == {"removed": [], "failed": {}}


def test_prune_spares_the_release_a_rollback_goes_back_to(base):
    for release_id in (R1, R2, R5):
        rel.activate(str(base), release_id)
    assert rel.prune(str(base), keep=1)["removed"] == sorted([R1, R3, R4, UNFINISHED])
    assert rel.list_(str(base)) == [R2, R5]
    assert rel.previous(str(base)) == R2[-8:]


def test_prune_spares_a_release_that_a_running_process_works_in(base):
    """A Gunicorn master started (or last reloaded) in an old release looks that directory
    up on its next SIGHUP and exits if it is gone: prune keeps it while the process runs."""
    _point(base, R5)
    proc = subprocess.Popen(["sleep", "60"], cwd=base / "releases" / R1 / "src")
    try:
        assert rel.prune(str(base), keep=1)["removed"] == sorted([R2, R3, R4, UNFINISHED])
        assert rel.list_(str(base)) == [R1, R5]
    finally:
        proc.kill()
        proc.wait()
    assert rel.prune(str(base), keep=1)["removed"] == [R1]


def test_prune_reports_what_it_could_not_remove(base):
    _point(base, R5)
    real = rel.shutil.rmtree

    def rmtree(path, *args, **kwargs):
        if path.endswith(R2):
            raise PermissionError(13, "Permission denied", path)
        return real(path, *args, **kwargs)

    with patch.object(rel.shutil, "rmtree", rmtree):
        result = rel.prune(str(base), keep=2)
    assert result["removed"] == sorted([R1, R3, UNFINISHED])
    assert list(result["failed"]) == [R2] and "Permission denied" in result["failed"][R2]
    assert R2 in rel.list_(str(base))


@pytest.mark.parametrize("keep", [0, -1])
def test_prune_refuses_keep_below_one(base, keep):
    with pytest.raises(CommandExecutionError, match="keep: expected an integer >= 1"):
        rel.prune(str(base), keep=keep)
    assert len(rel.list_(str(base))) == 5


def test_python_of_a_command_is_the_release_venv(base):
    release_dir = str(base / "releases" / R1)
    assert rel._argv("python manage.py collectstatic --noinput", release_dir) == [
        release_dir + "/venv/bin/python", "manage.py", "collectstatic", "--noinput"]
    assert rel._argv("python3 -c 'print(1)'", release_dir)[0] == release_dir + "/venv/bin/python"
    assert rel._argv("./build.sh 'a b'", release_dir) == ["./build.sh", "a b"]


@pytest.mark.parametrize(
    "source, kind",
    [
        ("salt://example", "saltdir"),
        ("salt://apps/app.tar.gz", "archive"),
        ("salt://apps/app.tgz", "archive"),
        ("salt://apps/app.tar", "archive"),
        ("https://example.org/app.git", "git"),
        ("git@example.org:team/app.git", "git"),
    ],
)
def test_source_kinds(source, kind):
    assert rel._source_kind(source) == kind


# ---------------------------------------------------------------- find, previous


def test_find_by_id_or_fingerprint(base):
    assert rel.find(str(base), R2) == R2
    assert rel.find(str(base), "2222cccc") == R3
    assert rel.find(str(base), "abcdef01") is None
    assert rel.find(str(base), "20261122T090000Z-1111bbbb") is None  # fingerprint of R2, time of none
    assert rel.find(str(base), "5555ffff") is None  # an unfinished build is never a match
    assert rel.find(str(base / "nowhere"), "2222cccc") is None


def test_find_picks_the_newest_release_with_that_fingerprint(base):
    rebuilt = "20261127T090000Z-1111bbbb"  # R2's source and settings, built again later
    _release(base, rebuilt)
    assert rel.find(str(base), "1111bbbb") == rebuilt
    assert rel.find(str(base), R2) == R2  # an id is exact


@pytest.mark.parametrize(
    "release",
    ["1111BBBB", "1111bbb", "1111bbbbb", "latest", "../1111bbbb", "-1111bbbb", "", "R2",
     "20261121T090000Z-1111bbbb/..", "20261121T090000Z_1111bbbb"],
)
def test_find_refuses_anything_but_an_id_or_8_hex(base, release):
    with pytest.raises(CommandExecutionError) as err:
        rel.find(str(base), release)
    assert str(err.value) == (f"release {release!r}: expected a release id (YYYYmmddTHHMMSSZ-<8 hex>) "
                              "or the 8 hex digits of its fingerprint")


def test_previous_is_the_fingerprint_built_before_the_newest(base):
    assert rel.previous(str(base)) == "3333dddd"  # R4's; R5 is the newest
    _point(base, R1)  # where current points does not matter: build order does
    assert rel.previous(str(base)) == "3333dddd"


def test_previous_skips_rebuilds_of_the_newest_fingerprint(base):
    _release(base, "20261127T090000Z-4444eeee")  # R5's fingerprint again, newer
    _release(base, "20261128T090000Z-4444eeee")
    assert rel.previous(str(base)) == "3333dddd"
    _release(base, "20261129T090000Z-0000aaaa")  # R1's source again: the one before is R5's
    assert rel.previous(str(base)) == "4444eeee"


def test_previous_with_fewer_than_two_fingerprints_is_none(tmp_path):
    base = tmp_path / "srv" / "webapp"
    assert rel.previous(str(base)) is None
    _release(base, R1)
    _release(base, UNFINISHED, finished=False)
    assert rel.previous(str(base)) is None
    _release(base, "20261201T090000Z-0000aaaa")  # the same fingerprint rebuilt
    assert rel.previous(str(base)) is None
    _release(base, "20261202T090000Z-1111bbbb")
    assert rel.previous(str(base)) == "0000aaaa"


# ---------------------------------------------------------------- migrations


@pytest.fixture
def run_all(run_all):
    """The module's runner of the project's commands (``_run_as``) replaced by a mock with
    ``cmd.run_all``'s answers (tests/unit/conftest.py): a command that succeeds unless a test
    says otherwise. Every user is an account that is not root."""
    with patch.object(rel, "_run_as", run_all), patch.object(rel, "_account", _account):
        yield run_all


def _account(user, what="runas"):
    if not user:
        raise CommandExecutionError(f"{what}: expected the user that runs the project's code (never root), got none")
    return rel.pwd.struct_passwd((user, "x", 1500, 1500, "", f"/srv/{user}", "/usr/sbin/nologin"))


def test_run_migrations_runs_once_then_marks_the_release(base, run_all):
    assert rel.migrated(str(base), R3) is False
    assert rel.run_migrations(str(base), R3, ["python manage.py migrate --noinput"], user="webapp",
                              settings_file="/etc/webstack/webapp/app.env") is True
    ((argv,), kwargs), = run_all.call_args_list
    release_dir = str(base / "releases" / R3)
    assert argv == [release_dir + "/venv/bin/python", "manage.py", "migrate", "--noinput"]
    assert kwargs["runas"] == "webapp"
    assert kwargs["cwd"] == release_dir + "/src"
    assert kwargs["env"]["WEBSTACK_CONFIG"] == "/etc/webstack/webapp/app.env"
    assert rel.migrated(str(base), R3) is True
    assert (base / "releases" / R3 / "MIGRATED").is_file()

    assert rel.run_migrations(str(base), R3, ["python manage.py migrate --noinput"], user="webapp") is False
    assert run_all.call_count == 1  # not again
    assert rel.migrated(str(base), R2) is False  # only that release


def test_failed_migrations_leave_no_mark_and_run_again(base, run_all):
    run_all.return_value = {"retcode": 1, "stdout": "", "stderr": "django.db.utils.OperationalError: no db"}
    with pytest.raises(CommandExecutionError, match="exited 1:\ndjango.db.utils.OperationalError: no db"):
        rel.run_migrations(str(base), R3, ["python manage.py migrate --noinput"], user="webapp")
    assert rel.migrated(str(base), R3) is False
    run_all.return_value = {"retcode": 0, "stdout": "", "stderr": ""}
    assert rel.run_migrations(str(base), R3, ["python manage.py migrate --noinput"], user="webapp") is True
    assert run_all.call_count == 2


def test_migrated_refuses_an_invalid_id(base):
    with pytest.raises(CommandExecutionError, match="expected YYYYmmddTHHMMSSZ-<8 hex>"):
        rel.migrated(str(base), "../../etc")
    with pytest.raises(CommandExecutionError, match="expected YYYYmmddTHHMMSSZ-<8 hex>"):
        rel.run_migrations(str(base), "latest", ["true"])


# ---------------------------------------------------------------- plan with a pinned release


def test_plan_of_a_pinned_release_switches_back_without_the_source(base):
    _point(base, R5)
    planned = rel.plan(str(base), "salt://no-such-source", release="1111bbbb")  # the source is not read
    assert planned == {"current": R5, "fingerprint": "f1111bbbb", "parts": None, "changed": True,
                       "reuse": R2, "resolved": None, "pinned": R2}
    planned = rel.plan(str(base), "salt://no-such-source", release=R5)
    assert (planned["changed"], planned["reuse"], planned["pinned"]) == (False, None, R5)


def test_plan_of_an_unknown_pin_lists_the_releases(base):
    with pytest.raises(CommandExecutionError) as err:
        rel.plan(str(base), "salt://example", release="abcdef01")
    assert str(err.value) == f"no finished release matches abcdef01 under {base} (have: {R1}, {R2}, {R3}, {R4}, {R5})"
    with pytest.raises(CommandExecutionError, match=r"\(have: none\)$"):
        rel.plan(str(base / "empty"), "salt://example", release="abcdef01")


def test_plan_of_a_pin_that_the_current_release_matches_does_not_switch_to_a_twin(base):
    # two finished releases with one fingerprint: on the older, a pin by fingerprint stays there
    twin = "20261127T000000Z-1111bbbb"
    _release(base, twin)
    _point(base, R2)
    planned = rel.plan(str(base), "salt://no-such-source", release="1111bbbb")
    assert (planned["changed"], planned["reuse"], planned["pinned"]) == (False, None, R2)
    _point(base, R5)
    planned = rel.plan(str(base), "salt://no-such-source", release="1111bbbb")
    assert (planned["changed"], planned["pinned"]) == (True, twin)  # the newest of the twins


def test_test_mode_on_a_server_without_git_predicts_a_new_release(tmp_path, monkeypatch):
    """./bootstrap.sh --test on a fresh server: git comes with the real run's packages, so the
    prediction is a new release (of a commit not known yet), not a failure."""
    monkeypatch.setattr(rel.shutil, "which", lambda name, **_: None)
    planned = rel.plan(str(tmp_path), "https://git.example.org/app.git", test=True)
    assert (planned["current"], planned["changed"], planned["reuse"]) == (None, True, None)
    assert planned["resolved"]["commit"] is None


@pytest.mark.parametrize("source", ["https://deploy:ghp_S3cr3tT0ken@github.com/acme/app.git",
                                    "https://ghp_S3cr3tT0ken@github.com/acme/app.git"])
def test_a_git_url_with_credentials_is_refused_without_repeating_them(tmp_path, source):
    with pytest.raises(CommandExecutionError) as excinfo:
        rel.resolve_source(str(tmp_path), source)
    assert "ghp_S3cr3tT0ken" not in str(excinfo.value)
    assert "'https://**********@github.com/acme/app.git': expected salt://<path>" in str(excinfo.value)
    assert "deploy key" in str(excinfo.value)
    assert not (tmp_path / "cache").exists()


# ---------------------------------------------------------------- the activation history

def test_a_step_back_pops_the_history_and_previous_goes_one_further_back(base):
    for release_id in (R1, R2, R3):
        rel.activate(str(base), release_id)
    assert rel.history(str(base)) == [R1, R2, R3]
    assert rel.previous(str(base)) == R2[-8:]
    rel.activate(str(base), R2)  # orch.rollback
    assert rel.history(str(base)) == [R1, R2]
    assert rel.previous(str(base)) == R1[-8:]  # a second rollback: one further back, not R3
    rel.activate(str(base), R1)
    assert rel.previous(str(base)) is None
    rel.activate(str(base), R4)  # a deploy after it
    assert rel.history(str(base)) == [R1, R4]


def test_previous_skips_a_release_that_is_gone(base):
    for release_id in (R1, R2, R3):
        rel.activate(str(base), release_id)
    import shutil  # pylint: disable=import-outside-toplevel
    shutil.rmtree(base / "releases" / R2)
    assert rel.previous(str(base)) == R1[-8:]


def test_without_a_history_previous_is_the_release_built_before_the_newest(base):
    _point(base, R5)  # a server from before the history was kept
    assert rel.previous(str(base)) == R4[-8:]


def test_deactivate_undoes_the_last_activation(base):
    rel.activate(str(base), R1)
    rel.activate(str(base), R2)
    rel.deactivate(str(base), R1)
    assert (rel.current(str(base)), rel.history(str(base))) == (R1, [R1])
    rel.deactivate(str(base), None)  # a first deploy's: nothing current afterwards
    assert rel.current(str(base)) is None and not os.path.lexists(base / "current")
    assert rel.history(str(base)) == []


# ---------------------------------------------------------------- external commands

def test_an_interrupted_clone_leaves_no_mirror_behind(tmp_path):
    calls = []

    def git(args, cwd=None, timeout=None):  # pylint: disable=unused-argument
        calls.append(args)
        os.makedirs(args[-1], exist_ok=True)  # git created the directory, then was cut off
        raise CommandExecutionError("git clone --mirror ... did not finish within 600 s")

    with patch.object(rel, "_git", git), pytest.raises(CommandExecutionError, match="did not finish"):
        rel._git_mirror(str(tmp_path), "https://git.example.org/app.git")  # pylint: disable=protected-access
    assert calls and calls[0][:2] == ["clone", "--mirror"]
    assert os.listdir(tmp_path / "cache" / "git") == []  # neither the mirror nor the partial clone


def test_a_git_command_that_hangs_fails_naming_it_after_its_timeout():
    def hang(argv, **kwargs):
        raise rel.subprocess.TimeoutExpired(argv, kwargs["timeout"])

    with patch.object(rel.subprocess, "run", hang), pytest.raises(CommandExecutionError) as excinfo:
        rel._git(["ls-remote", "https://git.example.org/app.git"])  # pylint: disable=protected-access
    assert "did not finish within" in str(excinfo.value)


def test_a_project_command_that_hangs_is_killed_with_its_children_after_its_timeout(tmp_path):
    """A real command as a real user (nobody): its timeout kills it and what it started, and
    the error names it."""
    marker = tmp_path / "child"
    tmp_path.chmod(0o777)
    argv = ["sh", "-c", f"(sleep 30; touch {marker}) & sleep 30"]
    started = time.monotonic()
    with pytest.raises(CommandExecutionError, match="did not finish within 1 s"):
        rel._run_as(argv, runas="nobody", cwd="/", env={"PATH": rel.SYSTEM_PATH}, timeout=1)  # pylint: disable=protected-access
    assert time.monotonic() - started < 10
    # SIGKILL went to the whole session; a child may take a moment to end after the kill
    deadline = time.monotonic() + 5
    while rel._processes_of(rel.pwd.getpwnam("nobody").pw_uid):  # pylint: disable=protected-access
        assert time.monotonic() < deadline, "a child of the command outlived its kill"
        time.sleep(0.05)


def test_a_project_command_runs_as_its_user_with_exactly_the_environment_given():
    res = rel._run_as(["sh", "-c", "id -u; id -G; umask; env"], runas="nobody", cwd="/",  # pylint: disable=protected-access
                      env={"PATH": rel.SYSTEM_PATH, "ONLY": "this"})
    uid, groups, umask, *env = res["stdout"].splitlines()
    nobody = rel.pwd.getpwnam("nobody")
    assert (res["retcode"], uid, groups, umask) == (0, str(nobody.pw_uid), str(nobody.pw_gid), "0022")
    assert sorted(line.split("=")[0] for line in env) == ["ONLY", "PATH", "PWD"]


@pytest.mark.parametrize("user", [None, "", "root", "no-such-user-here"])
def test_no_command_of_the_project_runs_as_root_or_as_nobody_known(user):
    with pytest.raises(CommandExecutionError, match="runas: "):
        rel._run_as(["true"], runas=user, cwd="/", env={})  # pylint: disable=protected-access


# ---------------------------------------------------------------- archives

def _tar(path, members):
    """A tar archive at ``path`` of (name, kind, target) members: file, dir or symlink."""
    import io  # pylint: disable=import-outside-toplevel
    import tarfile  # pylint: disable=import-outside-toplevel
    with tarfile.open(path, "w") as tar:
        for name, kind, target in members:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, target
                tar.addfile(info)
            else:
                data = (target or "x").encode()
                info.size, info.mode = len(data), 0o4755  # setuid: never kept
                tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(params=["data filter", "by hand"])
def extraction(request, monkeypatch):
    """Both ways of extracting: tarfile's data filter (Python 3.11.4+) and the checks that
    stand in for it on Debian 12's Python 3.11.2."""
    if request.param == "by hand":
        monkeypatch.delattr(rel.tarfile, "data_filter", raising=False)
    return request.param


def test_an_archive_is_extracted_root_owned_without_setuid(tmp_path, extraction):
    import tarfile  # pylint: disable=import-outside-toplevel
    archive = _tar(tmp_path / "a.tar", [("app", "dir", None), ("app/manage.py", "file", "print(1)"),
                                        ("app/link", "symlink", "manage.py")])
    with tarfile.open(archive) as tar:
        rel._extract(tar, str(tmp_path / "out"))  # pylint: disable=protected-access
    assert (tmp_path / "out" / "app" / "manage.py").read_text() == "print(1)"
    assert os.readlink(tmp_path / "out" / "app" / "link") == "manage.py"
    assert not os.stat(tmp_path / "out" / "app" / "manage.py").st_mode & 0o4000


@pytest.mark.parametrize("members", [
    [("../evil", "file", "x")],
    [("/etc/evil", "file", "x")],
    [("app", "dir", None), ("app/out", "symlink", "../../etc/passwd")],
    [("app", "dir", None), ("app/abs", "symlink", "/etc/passwd")],
], ids=["dotdot", "absolute", "symlink-out", "symlink-absolute"])
def test_an_archive_member_outside_the_release_is_refused(tmp_path, extraction, members):
    """Nothing lands outside the release: a member that would is refused (the data filter
    takes an absolute name as relative to the release instead)."""
    import tarfile  # pylint: disable=import-outside-toplevel
    archive = _tar(tmp_path / "a.tar", members)
    refused = None
    with tarfile.open(archive) as tar:
        try:
            rel._extract(tar, str(tmp_path / "out"))  # pylint: disable=protected-access
        except Exception as exc:  # pylint: disable=broad-except
            refused = exc
    assert not (tmp_path / "evil").exists() and not os.path.exists("/etc/evil")
    if members[0][0].startswith("/") and extraction == "data filter":
        assert refused is None and (tmp_path / "out" / "etc" / "evil").exists()
    else:
        assert refused is not None and type(refused).__name__ in (
            "CommandExecutionError", "OutsideDestinationError", "LinkOutsideDestinationError",
            "AbsoluteLinkError"), refused


def test_commands_have_the_settings_file_in_their_environment_then_env(base, run_all, tmp_path):
    """The settings of the config file are environment variables of a command, as the app's
    processes have them; ``env`` comes over them, ``{release}`` naming the command's release
    (a build's STATIC_ROOT is its own release's, not current's)."""
    settings = tmp_path / "app.env"
    settings.write_text("# a comment\nDJANGO_SECRET_KEY=k=with=equals\nSTATIC_ROOT=/srv/webapp/current/static\n"
                        "EMPTY=\n"
                        # what the formula never writes (a hand edit): never the command's
                        "PATH=/tmp/evil\nPYTHONPATH=/srv/webapp/shared/media\nLD_PRELOAD=/tmp/x.so\n")
    rel.run_commands(str(base), R3, ["python manage.py collectstatic --noinput"], settings_file=str(settings),
                     env={"STATIC_ROOT": "{release}/src/staticfiles", "DJANGO_SETTINGS_MODULE": "config.settings"},
                     runas="webapp")
    env = run_all.call_args.kwargs["env"]
    release_dir = str(base / "releases" / R3)
    assert env["DJANGO_SECRET_KEY"] == "k=with=equals" and env["EMPTY"] == ""
    assert env["STATIC_ROOT"] == release_dir + "/src/staticfiles"
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings"
    assert env["WEBSTACK_CONFIG"] == str(settings)
    assert env["PATH"] == release_dir + "/venv/bin:" + rel.SYSTEM_PATH
    assert (env["HOME"], env["USER"]) == ("/srv/webapp", "webapp")
    assert "# a comment" not in env and "PYTHONPATH" not in env and "LD_PRELOAD" not in env
    # the build user's: its own HOME, and no path to a file it cannot read
    rel.run_commands(str(base), R3, ["python manage.py collectstatic --noinput"], settings_file=str(settings),
                     runas="webapp-build", home="/srv/webapp/cache/build/home", config=False)
    env = run_all.call_args.kwargs["env"]
    assert (env["HOME"], env["USER"], env["DJANGO_SECRET_KEY"]) == ("/srv/webapp/cache/build/home", "webapp-build",
                                                                   "k=with=equals")
    assert "WEBSTACK_CONFIG" not in env


def test_execute_runs_in_current_and_answers_whatever_the_exit_status(base, run_all):
    _point(base, R2)
    run_all.return_value = {"retcode": 3, "stdout": "out", "stderr": "err"}
    res = rel.execute(str(base), 'python manage.py shell -c "print(1)"', runas="webapp")
    assert res == {"release": R2, "retcode": 3, "stdout": "out", "stderr": "err"}
    (argv,), kwargs = run_all.call_args
    assert argv == [str(base / "current") + "/venv/bin/python", "manage.py", "shell", "-c", "print(1)"]
    assert kwargs["cwd"] == str(base / "current" / "src") and kwargs["runas"] == "webapp"


def test_execute_refuses_without_a_current_release_or_with_two_lines(base, run_all):
    with pytest.raises(CommandExecutionError, match="no current release"):
        rel.execute(str(base), "python manage.py check")
    _point(base, R2)
    with pytest.raises(CommandExecutionError, match="expected one line"):
        rel.execute(str(base), "python manage.py check\nrm -rf /")
    run_all.assert_not_called()


def test_a_link_replaces_the_sources_placeholder_and_stays_inside_the_source(tmp_path):
    src = tmp_path / "src"
    (src / "app" / "media").mkdir(parents=True)
    (src / "app" / "media" / ".gitkeep").write_text("")
    rel._link(str(src), "app/media", "/srv/webapp/shared/media")
    assert os.readlink(src / "app" / "media") == "/srv/webapp/shared/media"
    rel._link(str(src), "new/dir/media", "/srv/webapp/shared/media")  # its parents are made
    assert os.readlink(src / "new" / "dir" / "media") == "/srv/webapp/shared/media"
    (src / "out").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(CommandExecutionError, match="leads out of it"):
        rel._link(str(src), "out/media", "/srv/webapp/shared/media")
    assert not (tmp_path / "elsewhere" / "media").exists()



# ---------------------------------------------------------------- virtualenv reuse

def _requirements(src, files):
    for name, text in files.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(src)


def test_the_virtualenv_key_follows_the_requirements_files_and_the_interpreter(tmp_path):
    files = {"requirements/production.txt": "-r base.txt\ngunicorn==23.0.0  # the server\n",
             "requirements/base.txt": "Django==5.2.8\n--constraint constraints.txt\n",
             "requirements/constraints.txt": "asgiref<4\n"}
    src = _requirements(tmp_path / "a", files)
    key = rel._venv_key(src, "requirements/production.txt", "3.13.5")
    assert key and key == rel._venv_key(_requirements(tmp_path / "b", files), "requirements/production.txt",
                                        "3.13.5")
    assert rel._venv_key(src, "requirements/production.txt", "3.11.2") != key
    changed = _requirements(tmp_path / "c", dict(files, **{"requirements/constraints.txt": "asgiref<3.9\n"}))
    assert rel._venv_key(changed, "requirements/production.txt", "3.13.5") != key  # an included file counts
    assert rel._venv_key(_requirements(tmp_path / "d", {}), "", "3.13.5")  # no requirements: shared too


@pytest.mark.parametrize("line", ["-e .", "--editable ./lib", ".", "./packages/billing", "/opt/wheels/x.whl",
                                  "file:///opt/x", "mypkg @ file:///opt/mypkg",
                                  "git+https://example.org/lib.git@main#egg=lib",
                                  "lib @ git+https://example.org/lib.git"])
def test_a_requirement_from_a_local_path_or_a_vcs_url_never_shares_a_virtualenv(tmp_path, line):
    src = _requirements(tmp_path, {"requirements.txt": "Django==5.2.8\n",
                                   "requirements/local.txt": f"-r ../requirements.txt\n{line}\n"})
    assert rel._venv_key(src, "requirements.txt", "3.13.5")
    assert rel._venv_key(src, "requirements/local.txt", "3.13.5") is None


@pytest.mark.parametrize("include", ["-r missing.txt", "-r ../../etc/passwd", "-c /etc/hostname",
                                     "--requirement=loop.txt"])
def test_an_include_that_is_missing_or_leads_out_never_shares_a_virtualenv_and_a_cycle_is_read_once(tmp_path, include):
    src = _requirements(tmp_path / "src", {"requirements.txt": f"Django==5.2.8\n{include}\n",
                                           "loop.txt": "--requirement=loop2.txt\n",
                                           "loop2.txt": "-r loop.txt\n"})
    key = rel._venv_key(src, "requirements.txt", "3.13.5")
    if include == "--requirement=loop.txt":  # a cycle is read once per file
        assert key
    else:
        assert key is None


def test_a_build_in_the_same_second_as_the_last_waits_for_the_next(tmp_path):
    """Release ids sort in build order: a build time is later than every id there."""
    base = tmp_path / "srv" / "webapp"
    assert rel._build_time(str(base))  # no releases yet
    now = rel._build_time(str(base))
    _release(base, f"{now}-0000aaaa", finished=False)
    later = rel._build_time(str(base))
    assert later > now
    future = "29991231T235959Z"
    _release(base, f"{future}-1111bbbb")
    assert rel._build_time(str(base), wait=0.3) < future  # a clock gone back: no endless wait
