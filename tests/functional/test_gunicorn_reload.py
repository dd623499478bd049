"""
Gunicorn's master across releases, for real: started in ``current/src`` (a symlink into
``releases/<id>``) as the formula's program starts it, it must survive a SIGHUP after the
release it started in is gone (pruned). Gunicorn takes its default ``chdir`` from ``$PWD``
when that names the same directory as the real one, else from the resolved path, and checks
that it exists on every reload: the formula's program sets ``PWD`` to the symlink's path.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

APP = "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'{name}']\n"


def _release(base, name):
    src = base / "releases" / name / "src"
    src.mkdir(parents=True)
    (src / "hello.py").write_text(APP.format(name=name))
    return src


def _point(base, name):
    tmp = base / "current.tmp"
    tmp.symlink_to(f"releases/{name}")
    os.replace(tmp, base / "current")


def _get(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
        return resp.read().decode()


def _wait_for(port, name, proc, timeout=20):
    """Until the app answers ``name`` (the release it was loaded from); the master alive."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        try:
            if _get(port) == name:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"no answer from release {name}"
        time.sleep(0.2)


@pytest.mark.parametrize("pwd, survives", [(True, True), (False, False)], ids=["pwd-set", "pwd-unset"])
def test_the_master_survives_a_reload_after_its_first_release_is_pruned(tmp_path, pwd, survives):
    base = tmp_path / "srv"
    _release(base, "r1")
    _point(base, "r1")
    current_src = str(base / "current" / "src")
    port = 20000 + os.getpid() % 20000
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(f'bind = ["127.0.0.1:{port}"]\nworkers = 1\nchdir = "{current_src}"\n'
                    f'pythonpath = "{current_src}"\n')
    env = {"PATH": os.environ["PATH"], "PWD": current_src} if pwd else {"PATH": os.environ["PATH"]}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", str(conf), "hello:application"],
                            cwd=current_src, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(port, "r1", proc)
        # a deploy: r2 is current, the master reloads (and moves its own cwd to r2)
        _release(base, "r2")
        _point(base, "r2")
        proc.send_signal(signal.SIGHUP)
        _wait_for(port, "r2", proc)
        # the next: r3 current, r1 pruned (no process works in it any more), a reload
        _release(base, "r3")
        _point(base, "r3")
        shutil.rmtree(base / "releases" / "r1")
        proc.send_signal(signal.SIGHUP)
        if survives:
            _wait_for(port, "r3", proc)
        else:
            proc.wait(timeout=20)
            assert "can't chdir to" in proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
