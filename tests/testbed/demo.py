"""
`make demo`: one container standing in for a fresh Debian 12 server, set up by
`./bootstrap.sh` exactly as the README says; prints a URL that answers on this
host. `make demo-down` removes it. WEBSTACK_DEMO_PORT picks the host port
(default 8080, on 127.0.0.1 only).
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import docker.errors  # noqa: E402

from tests.support.containers import Host, client, wait_http  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NAME = "webstack-demo-single"
IMAGE = "webstack-base:bookworm"


def up():
    port = int(os.environ.get("WEBSTACK_DEMO_PORT", "8080"))
    down(quiet=True)
    container = client().containers.run(
        IMAGE, ["sleep", "infinity"], name=NAME, hostname="demo", detach=True, init=True,
        environment=Host.container_environment(), volumes=Host.host_file_volumes(),
        ports={"80/tcp": ("127.0.0.1", port)})
    container.reload()
    host = Host(container)
    host.put_dir(str(REPO), "/root/webstack")
    start = time.monotonic()
    code, out = host.exec("cd /root/webstack && ./bootstrap.sh", check=False, timeout=1800)
    print(out[-2500:])
    if code != 0:
        print(f"demo: ./bootstrap.sh failed (exit {code}); the container {NAME} is left for a look", file=sys.stderr)
        return code
    url = f"http://127.0.0.1:{port}/"
    wait_http(url + "healthz", timeout=60)
    print(f"demo: role single is up in {time.monotonic() - start:.0f} s: {url}")
    print("demo: remove it with `make demo-down`")
    return 0


def down(quiet=False):
    try:
        containers = client().containers.list(all=True, filters={"name": NAME})
    except docker.errors.DockerException:
        if not quiet:
            print("demo: dockerd is not running: no demo container to remove")
        return 0
    for container in containers:
        container.remove(force=True, v=True)
        if not quiet:
            print(f"demo: removed {container.name}")
    return 0


if __name__ == "__main__":
    action = sys.argv[1] if len(sys.argv) > 1 else "up"
    sys.exit({"up": up, "down": down}[action]())
