#!/usr/bin/env python3
"""Hand-run check of the test bed (not a pytest test): the images from images.sh behave as
the integration tests assume, and tests/support/containers.py drives them. Needs dockerd and
the `docker` package:  python tests/testbed/selfcheck.py"""

import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support"))
import containers  # noqa: E402

last = time.monotonic()


def step(what):
    global last
    now = time.monotonic()
    print(f"ok {now - last:5.1f} s  {what}")
    last = now


MINE = containers.PREFIX + "selfcheck-"  # other runs may share this dockerd: leave theirs


def main():
    print("removed leftovers:", containers.remove_all(MINE) or "none")
    step("start")
    release = containers.RELEASE
    with containers.Host.start(containers.image("base"), name="selfcheck-base") as base:
        _, out = base.exec("cat /etc/os-release")
        assert f"VERSION_CODENAME={release}" in out, out
        code, out = base.exec("command -v python3 python salt-call", check=False)
        assert code != 0 and not out.strip(), f"the base image is not fresh: {out}"
        assert base.exec(["runlevel"])[1].strip() == "N 2"
        step(f"base image: {release}, no python3/salt, runlevel shim, ip {base.ip}")

    with containers.Host.start(containers.image("salt"), name="selfcheck-salt") as salt:
        _, out = salt.exec(["python", "-c", "import salt.version; print(salt.version.__version__)"])
        assert out.strip() == "3008.4", out
        assert "3008.4" in salt.exec("salt-call --version")[1]
        assert "True" in salt.exec("salt-call --local test.ping")[1]
        step("salt image: `python` imports salt 3008.4, salt-call --local works")

        salt.exec("python -m pip download -q --no-deps -d /tmp/x six", timeout=120)
        salt.exec("ls /tmp/x/six-*.whl")
        step("pip inside the container reaches PyPI (host CA bundle + pip.conf mounted)")

        code, out = salt.exec(["sleep", "5"], check=False, timeout=1)
        assert code == 124, (code, out)
        try:
            salt.exec("echo to-stdout; echo to-stderr >&2; exit 3")
        except containers.ExecError as exc:
            assert exc.exit_code == 3 and "to-stdout" in exc.output and "to-stderr" in exc.output
        else:
            raise AssertionError("exec(check=True) did not raise")
        step("exec: timeout gives 124, a failure raises ExecError with the output")

        src = pathlib.Path(__file__).resolve().parents[1] / "support"
        salt.put_dir(src, "/srv/support")
        _, out = salt.exec("cd /srv/support && find . -type f | sort && stat -c %U containers.py")
        assert "./containers.py" in out and "__pycache__" not in out and out.endswith("root\n"), out
        step("put_dir copies a tree without __pycache__, owned by root")

        salt.exec("cd /srv/support && nohup python3 -m http.server 80 >/tmp/http.log 2>&1 &")
        body = containers.wait_http(salt.url(80) + "/containers.py", timeout=30)
        assert "class Host" in body
        step(f"http.server in the container answers on {salt.url(80)}")
    assert not containers.remove_all(MINE), "containers were left behind"
    print("selfcheck passed")


if __name__ == "__main__":
    main()
