"""Containers that stand in for servers in the integration tests.

The images come from tests/testbed/images.sh (``webstack-{base,salt,systemd}:<release>``),
the daemon from tests/testbed/docker.sh. Every container is named ``webstack-test-*`` so that
leftovers of an interrupted run can be removed with :func:`remove_all`, and its ports are
published on 127.0.0.1 only.
"""

import contextlib
import io
import os
import re
import shlex
import socket
import tarfile
import time
import urllib.error
import urllib.request
import uuid

import docker
import docker.errors

PREFIX = "webstack-test-"
# The Debian releases of the test bed: the integration tier runs on RELEASE, Debian 13
# (trixie), the current stable release; OTHER_RELEASE, Debian 12 (bookworm), keeps a fresh
# role single and one cluster deployed by orch.deploy (tests/integration/test_debian12.py)
RELEASE = "trixie"
OTHER_RELEASE = "bookworm"


def image(kind, release=RELEASE):
    """The test bed's image ``kind`` (base, salt or systemd) of ``release``."""
    return f"webstack-{kind}:{release}"


# pip inside a container needs the host's CA bundle and pip config (TESTBED pitfall 7)
HOST_FILES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pip.conf")
# apt in a container goes through the test bed's package cache where it runs
# (tests/testbed/aptcache.sh writes this file while it does)
TESTBED_DIR = os.environ.get("WEBSTACK_TESTBED_DIR", "/var/tmp/webstack-testbed")  # as tests/testbed/*.sh
APT_PROXY = os.path.join(TESTBED_DIR, "apt-proxy.conf")
APT_PROXY_IN_CONTAINER = "/etc/apt/apt.conf.d/00webstack-testbed-proxy"
EXCLUDE_NAMES = {".git", "__pycache__", ".venv", ".pytest_cache"}
EXCLUDE_SUFFIXES = (".pyc",)

_client = None


def client():
    """One Docker client per process, from the environment (DOCKER_HOST or the local socket)."""
    global _client
    if _client is None:
        _client = docker.from_env()
    return _client


class ExecError(RuntimeError):
    """A command in a container exited non-zero (or ran past its timeout)."""

    def __init__(self, host, cmd, exit_code, output, timeout=None):
        self.cmd, self.exit_code, self.output = cmd, exit_code, output
        timed_out = timeout is not None and exit_code in (124, 137)  # `timeout`: TERM, KILL
        why = f"timed out after {timeout} s" if timed_out else f"exited {exit_code}"
        tail = output[-10000:]
        cut = "[... output cut, see .output ...]\n" if len(output) > len(tail) else ""
        super().__init__(f"{host.name}: {shlex.join(cmd)} {why}; output:\n{cut}{tail}")


class Host:
    """One running container, used like a server: exec, copy files, reach its ports."""

    def __init__(self, container, network=None):
        self.container = container
        self.name = container.name
        self.network = network

    @staticmethod
    def host_file_volumes():
        """The host files that every container gets read-only (those that exist here), and
        the package cache's apt setting."""
        volumes = {f: {"bind": f, "mode": "ro"} for f in HOST_FILES if os.path.isfile(f)}
        if os.path.isfile(APT_PROXY):
            volumes[APT_PROXY] = {"bind": APT_PROXY_IN_CONTAINER, "mode": "ro"}
        return volumes

    @staticmethod
    def container_environment():
        return {"LANG": "C.UTF-8"}

    @classmethod
    def start(cls, image, name=None, publish=(80, 443), hostname=None, network=None, systemd=False,
              cap_add=(), devices=(), tmpfs=()):
        """Run ``image`` detached with tini as PID 1 (``--init``; TESTBED pitfall 6), or, with
        ``systemd``, with systemd as PID 1 (webstack-systemd:<release>): /run on a tmpfs and the
        host's cgroup tree writable, as systemd needs; returns once systemd has booted.

        ``publish``: container ports, each published on 127.0.0.1 at a random host port,
        or a dict {container port: host port} for fixed ones. ``cap_add``: more capabilities,
        such as NET_ADMIN for a host that manages its firewall; ``devices``: host devices
        (/dev/fuse for a FUSE mount, with SYS_ADMIN); ``tmpfs``: directories on a filesystem
        of their own (a disk of the server's, such as a GlusterFS brick's).
        """
        name = name or uuid.uuid4().hex[:8]
        if not name.startswith("webstack-"):
            name = PREFIX + name
        if not isinstance(publish, dict):
            publish = dict.fromkeys(publish)
        volumes = cls.host_file_volumes()
        # SYS_PTRACE: root may read /proc/<pid>/exe of another user's process, as on a
        # server; without it start-stop-daemon cannot find redis-server to stop it.
        options = {"init": True, "command": ["sleep", "infinity"], "cap_add": ["SYS_PTRACE"]}
        if systemd:
            volumes["/sys/fs/cgroup"] = {"bind": "/sys/fs/cgroup", "mode": "rw"}
            options = {"init": False, "command": ["/lib/systemd/systemd"], "cap_add": ["SYS_PTRACE"],
                       "tmpfs": {"/run": "", "/run/lock": ""}}
        options["cap_add"] += list(cap_add)
        if devices:
            options["devices"] = [f"{device}:{device}:rwm" for device in devices]
        if tmpfs:
            options.setdefault("tmpfs", {}).update(dict.fromkeys(tmpfs, ""))
        container = client().containers.run(
            image,
            name=name,
            hostname=hostname,
            network=network,
            detach=True,
            environment=cls.container_environment(),
            volumes=volumes,
            ports={f"{port}/tcp": ("127.0.0.1", hport) for port, hport in publish.items()},
            **options,
        )
        container.reload()  # fills in the published ports and addresses
        host = cls(container, network)
        if systemd:
            host.wait_booted()
        return host

    def wait_booted(self, timeout=60):
        """Wait until systemd (PID 1) has finished booting: running, or degraded."""
        deadline = time.monotonic() + timeout
        while True:
            _, out = self.exec(["systemctl", "is-system-running"], check=False)
            if out.strip() in ("running", "degraded"):
                return out.strip()
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.name}: systemd did not finish booting within {timeout} s: {out}")
            time.sleep(0.5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()

    def exec(self, cmd, user=None, env=None, check=True, timeout=None):
        """Run ``cmd`` (argv list, or a string for ``bash -lc``) and return (exit_code, output).

        stdout and stderr come back interleaved as one text. ``timeout`` (seconds) is enforced
        inside the container by coreutils' ``timeout``: exit code 124 (137 if it had to be
        killed) means it ran out.
        """
        argv = ["bash", "-lc", cmd] if isinstance(cmd, str) else [str(arg) for arg in cmd]
        if timeout is not None:
            argv = ["timeout", "--kill-after=10", str(timeout), *argv]
        exit_code, raw = self.container.exec_run(argv, user=user or "", environment=env)
        output = raw.decode("utf-8", errors="replace")
        if check and exit_code != 0:
            raise ExecError(self, argv, exit_code, output, timeout)
        return exit_code, output

    def write_private(self, path, text):
        """Write ``text`` to ``path`` in the container, readable by root only (umask 077), as an
        operator writes a pillar file."""
        self.exec(["bash", "-c", f"umask 077 && cat > {path} <<'EOF'\n{text}EOF"])

    def url(self, port=None):
        """The URL under which the host reaches the container's ``port`` (127.0.0.1 only):
        https for 443, http for any other. By default 443 where it is published (the site
        of a server that ends TLS), else 80."""
        ports = self.container.attrs["NetworkSettings"]["Ports"]
        if port is None:
            port = 443 if ports.get("443/tcp") else 80
        bindings = ports.get(f"{port}/tcp")
        if not bindings:
            raise KeyError(f"{self.name}: port {port} is not published")
        return f"{'https' if port == 443 else 'http'}://127.0.0.1:{bindings[0]['HostPort']}"

    @property
    def _network_settings(self):
        """Docker's settings of the container on its network (the first one if it has several)."""
        networks = self.container.attrs["NetworkSettings"]["Networks"]
        return networks[self.network] if self.network in networks else next(iter(networks.values()))

    @property
    def ip(self):
        """The container's address on its network."""
        return self._network_settings["IPAddress"]

    @property
    def gateway(self):
        """This host's address on the container's network (the bridge's gateway): where a
        service of the test run that the container reaches listens."""
        return self._network_settings["Gateway"]

    def put_dir(self, local_path, container_path):
        """Copy the tree ``local_path`` to ``container_path`` (created; files owned by root),
        leaving out VCS, virtualenv and bytecode clutter."""

        def keep(info):
            base = os.path.basename(info.name)
            if base in EXCLUDE_NAMES or base.endswith(EXCLUDE_SUFFIXES):
                return None  # for a directory this also skips everything under it
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            return info

        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            tar.add(str(local_path), arcname=".", filter=keep)
        self.exec(["mkdir", "-p", container_path])
        if not self.container.put_archive(container_path, data.getvalue()):
            raise RuntimeError(f"{self.name}: copying {local_path} to {container_path} failed")

    def logs(self):
        return self.container.logs().decode("utf-8", errors="replace")

    def remove(self):
        with contextlib.suppress(docker.errors.NotFound):
            self.container.remove(force=True, v=True)


def remove_all(prefix=PREFIX, spare=()):
    """Force-remove every container whose name starts with ``prefix`` and with none of
    ``spare``; return their names (one gone meanwhile counts as removed)."""
    names = []
    for container in client().containers.list(all=True, filters={"name": prefix}):
        if container.name.startswith(prefix) and not container.name.startswith(tuple(spare)):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
            names.append(container.name)
    return names


def tcp_reaches(address, port, timeout=3):
    """Whether a TCP connection from this host to ``address``:``port`` opens within
    ``timeout`` s (False when it is refused, or dropped by a firewall)."""
    try:
        socket.create_connection((address, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def os_release(host):
    """The fields of ``host``'s /etc/os-release ({"VERSION_ID": "12", ...})."""
    _, out = host.exec(["cat", "/etc/os-release"])
    return dict(re.findall(r'^(\w+)="?([^"\n]*)"?$', out, re.M))


def wait_until(what, check, timeout, interval=0.5):
    """Poll ``check()`` every ``interval`` s until it returns a true value, and return that
    value; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(interval)


def wait_http(url, timeout=60, expect=200, headers=None):
    """Poll ``url`` every 0.5 s until it answers with status ``expect``; return the body.

    ``headers``: extra request headers (a Host header for an app behind ALLOWED_HOSTS).
    Raises TimeoutError naming the last status or error seen. Proxies are bypassed: the
    test bed's URLs are all on 127.0.0.1 or a container network.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers=headers or {})
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        try:
            with opener.open(request, timeout=5) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        except OSError as exc:  # URLError, connection refused or reset, socket timeout
            status, body = None, b""
            last = repr(exc)
        if status == expect:
            return body.decode("utf-8", errors="replace")
        if status is not None:
            last = f"status {status}"
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{url} did not answer {expect} within {timeout} s (last: {last})")
        time.sleep(0.5)
