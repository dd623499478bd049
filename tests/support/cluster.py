"""
A local cluster in containers, set up the way docs/operations.md tells an operator to:
a master bootstrapped with ``./bootstrap.sh --master`` (the checkout in
/srv/webstack), one container per minion of ``pillar/webstack/nodes.yaml``
bootstrapped with ``./bootstrap.sh --minion MASTER --id ID``, each key compared
with the minion's own fingerprint and accepted by hand (``auto_accept`` is off).
``make demo`` and the integration tests both use it.
"""

import concurrent.futures
import json
import re
import time
import uuid
from pathlib import Path

import docker.errors
import yaml

from tests.support.containers import Host, client

REPO = Path(__file__).resolve().parents[2]
IMAGE = "webstack-salt:bookworm"
MASTER_DIR = "/srv/webstack"
MINION_DIR = "/root/webstack"


def nodes():
    """The cluster's minions and their roles, from the pillar the master serves."""
    return yaml.safe_load((REPO / "pillar/webstack/nodes.yaml").read_text())


class Cluster:
    """``prefix``: container and network names; ``lb_port`` and ``tls_port``: host ports for
    lb1's ports 80 and 443 (None: a random one), published on 127.0.0.1 only."""

    def __init__(self, prefix, lb_port=None, tls_port=None):
        self.prefix = prefix
        self.network = prefix + "net"
        self.lb_port = lb_port
        self.tls_port = tls_port
        self.master = None
        self.minions = {}

    # ------------------------------------------------------------ lifecycle
    def up(self, log=print):
        self.down()
        client().networks.create(self.network, driver="bridge")
        # NET_ADMIN: the master keeps its ports for the minions (WEBSTACK_MASTER_ALLOW)
        self.master = Host.start(IMAGE, name=self.prefix + "master", publish=(), hostname="master",
                                 network=self.network, cap_add=["NET_ADMIN"])
        for node_id, roles in nodes().items():
            publish = {80: self.lb_port, 443: self.tls_port} if "lb" in roles else ()
            self.minions[node_id] = Host.start(IMAGE, name=self.prefix + node_id, publish=publish,
                                               hostname=node_id, network=self.network)
        log(f"cluster: {1 + len(self.minions)} containers on network {self.network}")
        self.master.put_dir(str(REPO), MASTER_DIR)
        self.master.exec(f"cd {MASTER_DIR} && ./bootstrap.sh --master", timeout=900,
                         env={"WEBSTACK_MASTER_ALLOW": self.minion_addresses})
        master_ip = self.master.ip

        def bootstrap(node_id):
            host = self.minions[node_id]
            host.put_dir(str(REPO), MINION_DIR)
            _, out = host.exec(f"cd {MINION_DIR} && ./bootstrap.sh --minion {master_ip} --id {node_id}",
                               timeout=900)
            match = re.search(r"key fingerprint: (\S+)", out)
            return node_id, match.group(1) if match else None

        with concurrent.futures.ThreadPoolExecutor(max_workers=len(self.minions)) as pool:
            fingers = dict(pool.map(bootstrap, self.minions))
        self.accept_keys(fingers)
        log(f"cluster: keys of {', '.join(sorted(fingers))} compared and accepted")
        return self

    @property
    def minion_addresses(self):
        """The minions' addresses: all that may reach the master's ports (bootstrap.sh --master)."""
        return " ".join(host.ip for host in self.minions.values())

    def accept_keys(self, fingers, timeout=120):
        """Accept each minion's key once the master has it and its fingerprint matches."""
        deadline = time.monotonic() + timeout
        pending = dict(fingers)
        while pending:
            for node_id, finger in list(pending.items()):
                code, out = self.master.exec(["salt-key", "--out=json", "-f", node_id], check=False)
                seen = json.loads(out or "{}").get("minions_pre", {}).get(node_id) if code == 0 else None
                if seen:
                    if finger and seen != finger:
                        raise RuntimeError(f"{node_id}: the master has key {seen}, the minion says {finger}")
                    self.master.exec(["salt-key", "-y", "-a", node_id])
                    del pending[node_id]
            if pending:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no key from {', '.join(sorted(pending))} within {timeout} s")
                time.sleep(1)
        # an accepted minion authenticates again after acceptance_wait_time (5 s, as
        # bootstrap.sh --minion sets it); a job published before that misses it, and the
        # master's timeout (30 s) and gather_job_timeout (10 s) would be waited out
        time.sleep(6)
        deadline = time.monotonic() + timeout
        while True:
            code, out = self.master.exec(["salt", "--out=json", "--static", "-t", "5", "-L", ",".join(self.minions),
                                          "test.ping"], check=False, timeout=60)
            answered = json.loads(out) if out.strip().startswith("{") else {}
            if all(answered.get(n) is True for n in self.minions):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"minions did not answer test.ping within {timeout} s: {out[-500:]}")
            time.sleep(2)

    def down(self):
        """Remove every container and the network of this prefix; return their names."""
        removed = []
        try:
            for container in client().containers.list(all=True, filters={"name": self.prefix}):
                if container.name.startswith(self.prefix):
                    container.remove(force=True, v=True)
                    removed.append(container.name)
            for network in client().networks.list(names=[self.network]):
                network.remove()
                removed.append(network.name)
        except docker.errors.NotFound:
            pass
        return removed

    def write_pillar(self, name, data):
        """The operator's pillar file ``webstack/<name>.sls`` on the master (root only), as
        docs/operations.md says for secrets and certificates."""
        self.master.write_private(f"/etc/webstack/pillar/webstack/{name}.sls",
                                  yaml.safe_dump(data, default_flow_style=False))

    # ------------------------------------------------------------ use
    def orchestrate(self, sls, pillar=None, timeout=1800):
        """``salt-run state.orchestrate <sls>`` on the master: (exit code, output, seconds).

        The output is salt-run's log lines, then its JSON result. The JSON goes through
        ``--out-file``: salt-run leaves its stdout non-blocking, and a result larger than a
        pipe (64 KiB) was cut short whenever the reader fell behind.
        """
        path = f"/tmp/orch-{uuid.uuid4().hex}.json"
        cmd = ["salt-run", "--out=json", f"--out-file={path}", "--state-verbose=True", "state.orchestrate", sls]
        if pillar:
            cmd.append("pillar=" + json.dumps(pillar))
        start = time.monotonic()
        code, log = self.master.exec(cmd, check=False, timeout=timeout)
        seconds = time.monotonic() - start
        _, result = self.master.exec(["sh", "-c", f"cat {path} 2>/dev/null; rm -f {path}"], check=False)
        return code, log + "\n" + result, seconds

    @property
    def lb(self):
        return self.minions[next(n for n, r in nodes().items() if "lb" in r)]
