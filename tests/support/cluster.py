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
import requests
import yaml

from tests.support.containers import RELEASE, Host, client, image, remove_all
from tests.support.load import DEPLOY_PAUSE, Load
from tests.support.tls import Authority, trust

REPO = Path(__file__).resolve().parents[2]
MASTER_DIR = "/srv/webstack"
CLUSTER_SLS = f"{MASTER_DIR}/pillar/webstack/cluster.sls"
SECRETS_SLS = "/etc/webstack/pillar/webstack/secrets.sls"
MINION_DIR = "/root/webstack"
HEADERS = {"Host": "localhost"}
# the app user's uid on the engines cluster (app:uid: the shared uploads are written as one uid)
ENGINES_UID = 1500
# straight to an app node, as the load balancer asks it (TLS ended there)
APP_HEADERS = dict(HEADERS, **{"X-Forwarded-Proto": "https"})


def nodes():
    """The cluster's minions and their roles, from the pillar the master serves."""
    return yaml.safe_load((REPO / "pillar/webstack/nodes.yaml").read_text())


class Cluster:
    """``prefix``: container and network names; ``lb_port`` and ``tls_port``: host ports for
    lb1's ports 80 and 443 (None: a random one), published on 127.0.0.1 only; ``release``:
    the Debian release of every node (the test bed's salt image of it); ``layout``: the
    minions and their roles, written to the master's ``nodes.yaml`` (default: the one in
    the checkout)."""

    def __init__(self, prefix, lb_port=None, tls_port=None, release=RELEASE, layout=None):
        self.prefix = prefix
        self.layout = layout or nodes()
        self.image = image("salt", release)
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
        self.master = Host.start(self.image, name=self.prefix + "master", publish=(), hostname="master",
                                 network=self.network, cap_add=["NET_ADMIN"])
        storage = any("storage" in roles for roles in self.layout.values())
        for node_id, roles in self.layout.items():
            publish = {80: self.lb_port, 443: self.tls_port} if "lb" in roles else ()
            extra = {}
            if "storage" in roles:
                # GlusterFS's brick: trusted.* xattrs (SYS_ADMIN) on a filesystem of its own;
                # the firewall of its ports (NET_ADMIN)
                extra = {"cap_add": ["SYS_ADMIN", "NET_ADMIN"], "tmpfs": ["/srv/glusterfs"]}
            elif storage and {"app", "worker"} & set(roles):
                extra = {"cap_add": ["SYS_ADMIN"], "devices": ["/dev/fuse"]}  # the FUSE mount
            if "cache" in roles:
                extra.setdefault("cap_add", []).append("NET_ADMIN")  # Memcached's firewall
            self.minions[node_id] = Host.start(self.image, name=self.prefix + node_id, publish=publish,
                                               hostname=node_id, network=self.network, **extra)
        log(f"cluster: {1 + len(self.minions)} containers on network {self.network}")
        self.master.put_dir(str(REPO), MASTER_DIR)
        if self.layout != nodes():
            self.master.write_private(f"{MASTER_DIR}/pillar/webstack/nodes.yaml",
                                      yaml.safe_dump(self.layout, default_flow_style=None))
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
        # master's timeout (10 s) and gather_job_timeout (10 s) would be waited out
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
        removed = remove_all(self.prefix)
        try:
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
        return self.minions[next(n for n, r in self.layout.items() if "lb" in r)]


def deploy_under_load(cluster, lb_ip, sls, timings, key, pillar=None, paths=("/", "/version", "/healthz"), clients=50):
    """``salt-run state.orchestrate <sls>`` while ``clients`` keep-alive clients that retry
    nothing send GETs of ``paths`` through the load balancer over HTTPS: (exit code, output,
    the load's summary); ``timings`` gets its time, requests and failures under ``key``."""
    with Load(lb_ip, 443, paths=paths, clients=clients, pause=DEPLOY_PAUSE) as load:
        time.sleep(2)  # the clients are all running before the deploy starts
        code, out, seconds = cluster.orchestrate(sls, pillar=pillar)
        time.sleep(2)
    summary = load.summary()
    timings[key] = seconds
    timings[key + "_requests"] = summary["requests"]
    timings[key + "_failed"] = summary["failed"]
    return code, out, summary


def use_project(master, name, repo, project_settings, wsgi_server=None):
    """The cluster's pillar deploys tests/projects/<name> (``repo``: its bare git repository,
    copied to the master and served by git daemon there): the project's app keys
    (``project_settings["app"]``, but the WSGI server, which stays the cluster's unless
    ``wsgi_server`` names one) in cluster.sls as it was before the first project, its other
    sections beside them, its own secrets (``app:secrets``, if any) in secrets.sls."""
    master.exec("command -v git >/dev/null || (apt-get update -qq && apt-get install -y -qq --no-install-recommends "
                "git >/dev/null)", timeout=900)
    master.put_dir(str(repo), f"/srv/git/{name}.git")
    master.exec("pgrep -x git-daemon >/dev/null || git daemon --reuseaddr --base-path=/srv/git --export-all "
                "--detach /srv/git")
    master.exec(f"[ -e /root/cluster.sls.before-projects ] || cp {CLUSTER_SLS} /root/cluster.sls.before-projects")
    settings = dict(project_settings["app"], source=f"git://{master.ip}/{name}.git", rev="main")
    secrets = settings.pop("secrets", {})
    text = master.exec(["cat", "/root/cluster.sls.before-projects"])[1]
    text = re.sub(r"(?m)^    (source|rev): .*\n", "", text)
    app_keys = yaml.safe_dump({"app": settings}, default_flow_style=False, indent=2).split("\n", 1)[1]
    text = text.replace("  app:\n    name: webapp\n", "  app:\n    name: webapp\n" + "\n".join(
        "  " + line for line in app_keys.splitlines()) + "\n", 1)
    others = {key: value for key, value in project_settings.items() if key not in ("app", "wsgi")}
    if wsgi_server:  # in place of the cluster's (a test before may have switched it)
        text = re.sub(r"(?m)^  wsgi:\n    server: .*\n", "", text)
        others["wsgi"] = {"server": wsgi_server}
    if others:
        text += "\n" + "\n".join("  " + line for line in yaml.safe_dump(
            others, default_flow_style=False).splitlines()) + "\n"
    master.write_private(CLUSTER_SLS, text)
    stored = yaml.safe_load(master.exec(["cat", SECRETS_SLS])[1])
    stored["webstack"]["app"]["secrets"] = secrets
    master.write_private(SECRETS_SLS, yaml.safe_dump(stored, default_flow_style=False))


def start_cluster(prefix, timings, keep=False, release=RELEASE, layout=None, prepare=None):
    """The cluster up, lb1's certificate and key in the pillar from a test authority (as an
    operator hands over a CA's; trusted by this process), ``prepare(cluster)`` (the
    operator's pillar, say) and a first ``orch.deploy`` that succeeded; if that fails, the
    cluster is removed (unless ``keep``) and the error raised.
    ``timings`` gets its wall times (their keys end in ``_<release>`` for another release
    than the tier's). The cluster has ``authority``, ``tls_key``, ``first`` (the deploy's
    results) and ``first_out``; the caller removes it (``down``)."""
    c = Cluster(prefix, release=release, layout=layout)
    suffix = "" if release == RELEASE else "_" + release
    try:
        start = time.monotonic()
        c.up(log=lambda *_: None)
        timings["cluster_bootstrap" + suffix] = time.monotonic() - start
        c.authority = Authority()
        certificate, c.tls_key = c.authority.issue(["localhost", "127.0.0.1", "lb1", c.lb.ip])
        c.write_pillar("tls", {"webstack": {"tls": {"certificate": certificate, "private_key": c.tls_key}}})
        trust(c.authority.pem)
        if prepare:
            prepare(c)
        code, out, seconds = c.orchestrate("orch.deploy")
        timings["orch_deploy_from_scratch" + suffix] = seconds
        assert code == 0, f"orch.deploy from scratch exited {code}:\n{why_failed(out)}"
        c.first, c.first_out = orch_result(out), out
    except BaseException:
        if not keep:
            c.down()
        raise
    return c


def _orch_json(out):
    """The JSON document at the end of `salt-run --out=json` output (after its log lines)."""
    start = out.index("\n{\n") + 1 if not out.startswith("{") else 0
    return json.loads(out[start:out.rindex("\n}") + 2])


def orch_result(out):
    """The orchestration's state results ({state key: result}) from `salt-run --out=json`,
    the rollout's steps (a nested orchestration after the preflight) in line with the
    preflight's, in the order they ran."""
    data = _orch_json(out)["data"]
    (results,) = data.values()
    return _flatten(results)


def _flatten(results, base=0.0, scale=1.0):
    flat = {}
    for key, res in results.items():
        run = base + res.get("__run_num__", 0) * scale
        changes = res.get("changes") if isinstance(res.get("changes"), dict) else {}
        nested = (changes.get("return") or {}).get("data") if isinstance(changes.get("return"), dict) else None
        if isinstance(nested, dict) and len(nested) == 1 and isinstance(next(iter(nested.values())), dict):
            flat.update(_flatten(next(iter(nested.values())), run, scale / 1000))
        else:
            flat[key] = dict(res, __run_num__=run)
    return flat


def minion_changes(results):
    """{step id: {minion: [changed state ids]}} for the salt.state steps that changed something."""
    changed = {}
    for res in results.values():
        ret = (res.get("changes") or {}).get("ret") if isinstance(res.get("changes"), dict) else None
        if (res.get("changes") or {}).get("out") != "highstate" or not ret:
            continue
        for minion, states in ret.items():
            ids = [s.get("__id__", key) for key, s in states.items() if s.get("changes")] \
                if isinstance(states, dict) else [str(states)]
            if ids:
                changed.setdefault(res["__id__"], {})[minion] = ids
    return changed


def failed_steps(results):
    return [res["__id__"] for res in results.values() if res.get("result") is False]


def why_failed(out, limit=6000):
    """The states that failed on their own in an orchestration's output (not for a failed
    requisite), each with its minion and comment, for an assertion's message; else the end
    of the output."""
    try:
        data = _orch_json(out)
    except ValueError:
        return out[-limit:]
    found = []

    def walk(node, where):
        if not isinstance(node, dict):
            return
        comment = node.get("comment")
        if node.get("result") is False and isinstance(comment, str) and "__id__" in node \
                and not comment.startswith(("One or more requisite failed", "Run failed on minions")):
            if comment == "Failure!":  # test.fail_without_changes says why in its name
                comment = str(node.get("name"))
            # a long one (a log's last lines) keeps its start and its end, where the error is
            shown = comment if len(comment) <= 3000 else comment[:800] + "\n[...]\n" + comment[-2000:]
            found.append(f"{where}: {node['__id__']}: {shown}")
        for key, value in node.items():
            walk(value, key if isinstance(value, dict) and key in ret_minions else where)

    ret_minions = set()

    def minions(node):
        if isinstance(node, dict):
            if isinstance(node.get("ret"), dict):
                ret_minions.update(node["ret"])
            for value in node.values():
                minions(value)

    minions(data)
    walk(data, "master")
    return "\n".join(found)[-limit:] if found else out[-limit:]


def version(where):
    """(release id, X-Served-By) of GET /version: through the load balancer (``where`` is its
    address: HTTPS, verified) or straight from an app node (a Host: HTTP, as lb1 asks it)."""
    if isinstance(where, str):
        resp = requests.get(f"https://{where}/version", headers=HEADERS, timeout=10)
    else:
        resp = requests.get(f"http://{where.ip}/version", headers=APP_HEADERS, timeout=10)
    assert resp.status_code == 200, resp.text[:300]
    return resp.text.strip(), resp.headers.get("X-Served-By")


def _haproxy_processes(lb, old_workers=None, timeout=30):
    """(master pid, {worker pids}) of HAProxy on ``lb``: the master is the one whose parent
    is not HAProxy. A reload is asynchronous (``systemctl reload`` signals the master, which
    re-executes itself and then starts new workers), so this waits until one master shows
    with workers (other than ``old_workers`` when given), and returns the last picture seen
    when that does not come within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        _, out = lb.exec(["ps", "-eo", "pid=,ppid=,args="])
        procs = {int(pid): int(ppid) for pid, ppid, args in (line.split(None, 2) for line in out.splitlines())
                 if args.startswith("/usr/sbin/haproxy ")}
        masters = [pid for pid, ppid in procs.items() if ppid not in procs]
        master = masters[0] if len(masters) == 1 else None
        workers = {pid for pid, ppid in procs.items() if ppid == master}
        if master and workers and not (old_workers is not None and workers <= old_workers):
            return master, workers
        if time.monotonic() > deadline:
            return master, workers
        time.sleep(0.5)


def lb_config_changes_under_load(cluster, changes=4, clients=50):
    """``changes`` changes of HAProxy's config on lb1 (``lb:timeout_server``, 61s then back to
    the pillar's, and so on: it ends where it began), each applied with
    ``salt lb1 state.apply webstack.roles.lb`` while ``clients`` keep-alive clients send GETs
    through HAProxy over HTTPS and retry nothing. Checks that each change reloaded HAProxy
    (same master, new workers) and returns the load's summary."""
    lb = cluster.minions["lb1"]
    before = lb.exec(["cat", "/etc/haproxy/haproxy.cfg"])[1]
    master, workers = _haproxy_processes(lb)
    with Load(lb.ip, 443, paths=("/", "/version"), clients=clients, pause=0.05) as load:
        time.sleep(2)
        for n in range(changes):
            pillar = {"webstack": {"lb": {"timeout_server": "61s"}}} if n % 2 == 0 else None
            cmd = ["salt", "--out=json", "--static", "lb1", "state.apply", "webstack.roles.lb"]
            code, out = cluster.master.exec(cmd + ([f"pillar={json.dumps(pillar)}"] if pillar else []),
                                            check=False, timeout=300)
            assert code == 0, out[-4000:]
            expected = "timeout server 61s" if pillar else "timeout server 60s"
            assert expected in lb.exec(["cat", "/etc/haproxy/haproxy.cfg"])[1], f"change {n + 1}: {expected}"
            now_master, now_workers = _haproxy_processes(lb, old_workers=workers)
            assert now_master == master and now_workers - workers, \
                f"change {n + 1}: HAProxy was not reloaded ({master}, {workers} -> {now_master}, {now_workers})"
            workers = now_workers
            time.sleep(3)  # the old workers finish their connections under load
    assert lb.exec(["cat", "/etc/haproxy/haproxy.cfg"])[1] == before
    return load.summary()
