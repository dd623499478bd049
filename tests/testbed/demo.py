"""
`make demo`: a local cluster in containers (master, db1, cache1, app1, app2,
worker1, lb1), set up as docs/operations.md tells an operator to, then
`salt-run state.orchestrate orch.deploy` on the master; prints the load
balancer's URL on this host. `make demo-down` removes everything it made.
WEBSTACK_DEMO_TLS_PORT and WEBSTACK_DEMO_PORT pick the host ports for lb1's HTTPS
and HTTP (default 8443 and 8080, on 127.0.0.1 only). lb1's certificate is the
self-signed one the formula made; the demo copies it to ./webstack-demo.crt.
The nodes run Debian 13 (WEBSTACK_DEMO_RELEASE=bookworm: Debian 12).
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import docker.errors  # noqa: E402

from tests.support.cluster import Cluster  # noqa: E402
from tests.support.containers import wait_http  # noqa: E402
from tests.support.tls import trust_host, use_bundle  # noqa: E402

PREFIX = "webstack-demo-"
LEGACY = "webstack-demo-single"  # the one-container demo of earlier versions


def up():
    port = int(os.environ.get("WEBSTACK_DEMO_PORT", "8080"))
    tls_port = int(os.environ.get("WEBSTACK_DEMO_TLS_PORT", "8443"))
    down(quiet=True)
    start = time.monotonic()
    release = os.environ.get("WEBSTACK_DEMO_RELEASE", "trixie")
    if release not in ("trixie", "bookworm"):
        sys.exit(f"demo: WEBSTACK_DEMO_RELEASE={release!r}: expected trixie (Debian 13) or bookworm (Debian 12)")
    cluster = Cluster(PREFIX, lb_port=port, tls_port=tls_port, release=release).up()
    print("demo: salt-run state.orchestrate orch.deploy (first run: a few minutes)", flush=True)
    code, out, seconds = cluster.orchestrate("orch.deploy")
    if code != 0:
        print(out[-6000:])
        print(f"demo: orch.deploy failed (exit {code}) after {seconds:.0f} s; the containers "
              f"{PREFIX}* are left for a look (make demo-down removes them)", file=sys.stderr)
        return code
    use_bundle()
    Path("webstack-demo.crt").write_text(trust_host(cluster.lb), encoding="ascii")
    url = f"https://127.0.0.1:{tls_port}/"
    wait_http(url + "healthz", timeout=60)
    print(f"demo: orch.deploy took {seconds:.0f} s; the cluster is up in {time.monotonic() - start:.0f} s")
    print(f"demo: {url} (HAProxy on lb1, in front of app1 and app2; its self-signed certificate "
          f"is in ./webstack-demo.crt: curl --cacert webstack-demo.crt {url})")
    print(f"demo: on the master: docker exec -it {PREFIX}master bash; cd /srv/webstack; "
          "salt-run state.orchestrate orch.deploy")
    print("demo: remove it with `make demo-down`")
    return 0


def down(quiet=False):
    try:
        removed = Cluster(PREFIX).down()
        for container in Cluster(LEGACY).down():
            removed.append(container)
    except docker.errors.DockerException:
        if not quiet:
            print("demo: dockerd is not running: nothing to remove")
        return 0
    if not quiet:
        print("demo: removed " + (", ".join(removed) if removed else "nothing (no demo was up)"))
    return 0


if __name__ == "__main__":
    action = sys.argv[1] if len(sys.argv) > 1 else "up"
    sys.exit({"up": up, "down": down}[action]())
