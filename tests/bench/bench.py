"""
`make bench`: one run on this machine, side by side, written to
tests/bench/results/bench.md (Markdown tables) and tests/bench/results/wsgi.png
(a chart), and printed:

1. The three WSGI servers (Gunicorn and uWSGI behind Nginx, Apache with
   mod_wsgi), each in its own container set up by `./bootstrap.sh`: requests per
   second and p50/p99 latency of a plain view (/version) and a database view (/,
   20 rows) of example/, through the front server and direct (a second instance
   of the same server on a TCP port, same settings), with the formula's default
   settings and with each setting of a small sweep of workers and threads, applied
   through the pillar as an operator would. The load is wrk, inside the container,
   on loopback.
2. The idempotent, no-change apply time of every role (single per WSGI server; db,
   cache, app, worker and lb on the cluster of `make demo`), beside the floor: a
   salt-call of one trivial state. Also the first bootstrap and orch.deploy.
3. A rolling deploy (orch.deploy of a code change) under 50 clients through HAProxy:
   requests, failures, p99 latency during the deploy.
4. Backups: a full backup of about 1 GB (pgbench), the recovery point under a steady
   write load, a restore of the latest state, a drill.

    python tests/bench/bench.py [--parts wsgi,apply,rolling,backup] [--duration 6]
"""

import argparse
import concurrent.futures
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.integration.conftest import BASE_IMAGE, SALT_IMAGE, write_local_pillar  # noqa: E402
from tests.support.cluster import MASTER_DIR, Cluster, nodes  # noqa: E402
from tests.support.containers import Host, remove_all  # noqa: E402
from tests.support.load import Load  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "tests" / "bench" / "results"
PREFIX = "webstack-bench-"
APP = "webapp"
SERVERS = ("gunicorn", "uwsgi", "mod_wsgi")
CORES = os.cpu_count()  # the containers see the host's cores (the num_cpus grain)
DEFAULT = (None, None)  # the formula's defaults: workers auto (2 x cores + 1), threads 1
SWEEP = [DEFAULT, (2, 1), (3, 1), (9, 1), (2, 4), (5, 4)]
VIEWS = {"plain": "/version", "db": "/"}
CONNECTIONS = 16
PASSES = 2
DIRECT_PORT = 8001


def log(*args):
    print("bench:", *args, flush=True)


def timed(host, cmd, timeout=1800):
    start = time.monotonic()
    host.exec(cmd, timeout=timeout)
    return time.monotonic() - start


# ---------------------------------------------------------------- wrk

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * _UNITS[unit]


def wrk(host, url, seconds):
    """wrk's requests/s, p50 and p99 (ms) and error count for GETs of ``url`` (inside ``host``)."""
    # the app is told that TLS ended in front of it (as the web server and lb1 tell it);
    # else it answers a direct request with a redirect to HTTPS
    base = ["wrk", "-t2", f"-c{CONNECTIONS}", "--latency", "-H", "Host: localhost",
            "-H", "X-Forwarded-Proto: https", url]
    host.exec(base[:1] + ["-d1s"] + base[1:], check=False)  # warm-up: imports, connections, caches
    _, out = host.exec(base[:1] + [f"-d{seconds}s"] + base[1:], timeout=seconds + 60)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {"rps": rps, "p50": p50, "p99": p99, "errors": errors}


# ---------------------------------------------------------------- part 1: WSGI servers

def _settings(server, config):
    workers, threads = config
    wsgi = {"server": server}
    if workers:
        wsgi.update({"workers": workers, "threads": threads})
    return {"wsgi": wsgi}


def _label(config):
    return f"default ({2 * CORES + 1} x 1)" if config == DEFAULT else f"{config[0]} x {config[1]}"


def _select(rows, server, view, via):
    """The rows of one server, view and path (front or direct), every setting."""
    return [r for r in rows if (r["server"], r["view"], r["via"]) == (server, view, via)]


def start_servers():
    """One container per WSGI server, bootstrapped at once; returns {server: Host} and the first
    bootstrap's time on the bare base image (Gunicorn, the default)."""
    remove_all(PREFIX)

    def one(server):
        image = BASE_IMAGE if server == "gunicorn" else SALT_IMAGE
        host = Host.start(image, name=PREFIX + server.replace("_", "-"), publish=(80, 443), hostname="bench1")
        host.put_dir(str(REPO), "/root/webstack")
        write_local_pillar(host, _settings(server, DEFAULT))
        seconds = timed(host, "cd /root/webstack && ./bootstrap.sh")
        host.exec("apt-get install -y -q wrk >/dev/null", timeout=600)
        rows = ",".join(f"('bench row {i}', 'web', now())" for i in range(20))
        host.exec(["su", "postgres", "-s", "/bin/sh", "-c",
                   f"psql -d {APP} -c \"INSERT INTO entries_entry (text, source, created) VALUES {rows}\""])
        return server, host, seconds

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(SERVERS)) as pool:
        done = list(pool.map(one, SERVERS))
    return {server: host for server, host, _ in done}, {server: s for server, _, s in done}


def _direct(host, server):
    """Start a second instance of the server on 127.0.0.1:DIRECT_PORT with the same settings;
    returns the command that stops it (None for mod_wsgi: its daemons are reached through Apache
    only)."""
    env = (f"env HOME=/srv/{APP} WEBSTACK_CONFIG=/etc/webstack/{APP}/app.env "
           "DJANGO_SETTINGS_MODULE=exampleproject.settings")
    if server == "gunicorn":
        cmd = (f"cd /srv/{APP}/current/src && {env} /srv/{APP}/current/venv/bin/python -m gunicorn "
               f"--config /etc/webstack/{APP}/gunicorn.conf.py --bind 127.0.0.1:{DIRECT_PORT} "
               "--pid /tmp/bench-direct.pid exampleproject.wsgi:application")
    elif server == "uwsgi":
        cmd = (f"sed -e '/^socket/d;/^chmod-socket/d;/^master-fifo/d;/^stats/d' /etc/webstack/{APP}/uwsgi.ini "
               f"> /tmp/bench-direct.ini && echo 'http11-socket = 127.0.0.1:{DIRECT_PORT}' >> /tmp/bench-direct.ini "
               f"&& cd /srv/{APP} && {env} uwsgi-core --ini /tmp/bench-direct.ini --pidfile /tmp/bench-direct.pid")
    else:
        return None
    host.exec(["bash", "-c", f"cat > /tmp/bench-direct.sh <<'EOF'\n{cmd}\nEOF"])
    host.exec(["bash", "-c", f"runuser -u {APP} -- bash /tmp/bench-direct.sh >/tmp/bench-direct.log 2>&1 &"])
    deadline = time.monotonic() + 60
    while host.exec(["curl", "-fsS", "-o", "/dev/null", "-H", "Host: localhost",
                     f"http://127.0.0.1:{DIRECT_PORT}/healthz"], check=False)[0] != 0:
        if time.monotonic() > deadline:
            raise RuntimeError(host.exec("cat /tmp/bench-direct.log", check=False)[1][-3000:])
        time.sleep(0.5)
    sig = "TERM" if server == "gunicorn" else "INT"
    return f"pid=$(cat /tmp/bench-direct.pid); kill -{sig} $pid; while kill -0 $pid 2>/dev/null; do sleep 0.2; done"


def bench_servers(hosts, seconds, passes=2):
    """Every setting of the sweep, ``passes`` times (in order, then in reverse, so that
    no setting always runs first); returns one row per run."""
    runs = []
    for server in SERVERS:
        host = hosts[server]
        for n in range(passes):
            for config in (SWEEP if n % 2 == 0 else list(reversed(SWEEP))):
                write_local_pillar(host, _settings(server, config))
                host.exec("webstack-salt-call state.apply webstack.roles.single --state-output=terse",
                          timeout=900)
                time.sleep(3)  # the reload settles (new workers, old ones gone)
                stop = _direct(host, server)
                for view, path in VIEWS.items():
                    paths = {"front": f"https://127.0.0.1:443{path}"}
                    if stop:
                        paths["direct"] = f"http://127.0.0.1:{DIRECT_PORT}{path}"
                    for via, url in paths.items():
                        res = wrk(host, url, seconds)
                        runs.append({"server": server, "config": _label(config), "default": config == DEFAULT,
                                     "view": view, "via": via, "pass": n, **res})
                        log(f"pass {n + 1}: {server} {_label(config)} {view} {via}: {res['rps']:.0f} req/s, "
                            f"p50 {res['p50']:.1f} ms, p99 {res['p99']:.1f} ms, errors {res['errors']}")
                if stop:
                    host.exec(["bash", "-c", stop], timeout=120)
        write_local_pillar(host, _settings(server, DEFAULT))
        host.exec("webstack-salt-call state.apply webstack.roles.single --state-output=terse", timeout=900)
    return runs


def mean_rows(runs):
    """One row per (server, setting, view, via): the mean of its passes, and how far apart
    the passes were (max / min requests per second - 1)."""
    groups = {}
    for r in runs:
        groups.setdefault((r["server"], r["config"], r["view"], r["via"]), []).append(r)
    rows = []
    for (server, config, view, via), sel in groups.items():
        rps = [r["rps"] for r in sel]
        rows.append({"server": server, "config": config, "default": sel[0]["default"], "view": view, "via": via,
                     "rps": statistics.mean(rps), "p50": statistics.mean(r["p50"] for r in sel),
                     "p99": statistics.mean(r["p99"] for r in sel), "errors": sum(r["errors"] for r in sel),
                     "spread": max(rps) / min(rps) - 1})
    return rows


def servers_tables(rows):
    lines = ["| server | view | via | default req/s | p50 ms | p99 ms | best (workers x threads) | best req/s "
             "| p50 ms | p99 ms | default / best |",
             "| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
    for server in SERVERS:
        for view in VIEWS:
            for via in ("front", "direct"):
                sel = _select(rows, server, view, via)
                if not sel:
                    continue
                default = next(r for r in sel if r["default"])
                best = max(sel, key=lambda r: r["rps"])
                lines.append(
                    f"| {server} | {view} | {via} | {default['rps']:.0f} | {default['p50']:.1f} | "
                    f"{default['p99']:.1f} | {best['config']} | {best['rps']:.0f} | {best['p50']:.1f} | "
                    f"{best['p99']:.1f} | {100 * default['rps'] / best['rps']:.0f}% |")
    hop = ["", "Cost of the front server's hop (1 - front / direct requests per second, same settings):", "",
           "| server | view | default settings | best settings of each |", "| --- | --- | ---: | ---: |"]
    for server in ("gunicorn", "uwsgi"):
        for view in VIEWS:
            def pick(via, default=True, server=server, view=view):
                sel = _select(rows, server, view, via)
                return next(r for r in sel if r["default"]) if default else max(sel, key=lambda r: r["rps"])
            d = 1 - pick("front")["rps"] / pick("direct")["rps"]
            b = 1 - pick("front", False)["rps"] / pick("direct", False)["rps"]
            hop.append(f"| {server} | {view} | {100 * d:.0f}% | {100 * b:.0f}% |")
    hop += ["", "mod_wsgi has no direct path: its daemon processes are reached through Apache only."]
    sweep = ["", "Every run of the sweep (requests per second through the front server / direct):", "",
             "| server | workers x threads | plain front | plain direct | db front | db direct |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for server in SERVERS:
        for config in SWEEP:
            cells = []
            for view in VIEWS:
                for via in ("front", "direct"):
                    r = [x for x in _select(rows, server, view, via) if x["config"] == _label(config)]
                    cells.append(f"{r[0]['rps']:.0f}" if r else "n/a")
            sweep.append(f"| {server} | {_label(config)} | " + " | ".join(cells) + " |")
    errors = sum(r["errors"] for r in rows)
    spread = max(rows, key=lambda r: r["spread"])
    return lines + hop + sweep + [
        "", f"Errors (non-2xx answers and socket errors) in all runs: {errors}. Each figure is the mean of "
        f"{PASSES} passes (the sweep in order, then reversed); the passes of one setting differed by "
        f"{100 * statistics.median(r['spread'] for r in rows):.0f}% in the median, by {100 * spread['spread']:.0f}% "
        f"at most ({spread['server']} {spread['config']} {spread['view']} {spread['via']})."]


def chart(rows, path):
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=False)
    for ax, view in zip(axes, VIEWS, strict=True):
        labels, default, best = [], [], []
        for server in SERVERS:
            for via in ("front", "direct"):
                sel = _select(rows, server, view, via)
                if not sel:
                    continue
                labels.append(f"{server}\n{via}")
                default.append(next(r for r in sel if r["default"])["rps"])
                best.append(max(r["rps"] for r in sel))
        x = range(len(labels))
        ax.bar([i - 0.2 for i in x], default, width=0.4, label="default settings")
        ax.bar([i + 0.2 for i in x], best, width=0.4, label="best of the sweep")
        ax.set_xticks(list(x), labels, fontsize=8)
        ax.set_title(f"{view} view ({VIEWS[view]})")
        ax.set_ylabel("requests per second")
        ax.legend(fontsize=8)
    fig.suptitle(f"webstack: WSGI servers on one {CORES}-core machine (wrk, {CONNECTIONS} connections, loopback)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# ---------------------------------------------------------------- part 2 and 3: apply times, rolling deploy

def median_time(host, cmd, runs):
    return statistics.median(timed(host, cmd) for _ in range(runs))


def bench_single_apply(hosts, runs=5):
    rows = []
    for server in SERVERS:
        host = hosts[server]
        rows.append((f"single ({server})", median_time(host, "webstack-salt-call state.apply "
                                                              "webstack.roles.single", runs)))
    rows.append(("floor: webstack-salt-call of one trivial state",
                 median_time(hosts["gunicorn"], "webstack-salt-call state.single test.nop name=floor", runs)))
    return rows


def bench_cluster(runs=3, clients=50):
    cluster = Cluster(PREFIX + "c-")
    figures, rows = {}, []
    try:
        start = time.monotonic()
        cluster.up(log=lambda *_: None)
        figures["cluster bootstrap (master + 6 minions, keys accepted)"] = time.monotonic() - start
        code, out, seconds = cluster.orchestrate("orch.deploy")
        assert code == 0, out[-4000:]
        figures["orch.deploy from scratch"] = seconds
        code, out, seconds = cluster.orchestrate("orch.deploy")
        figures["orch.deploy, nothing to change"] = seconds
        roles = {}
        for node, node_roles in sorted(nodes().items()):
            roles.setdefault(node_roles[0], node)  # one node per role
        for role, node in roles.items():
            rows.append((f"{role} ({node}, salt-call state.apply)",
                         median_time(cluster.minions[node], "salt-call state.apply", runs)))
        rows.append(("floor: salt-call of one trivial state (app1, from the master)",
                     median_time(cluster.minions["app1"], "salt-call state.single test.nop name=floor", runs)))
        cluster.master.exec(f"echo '<!-- bench revision {time.time()} -->' >> "
                            f"{MASTER_DIR}/example/entries/templates/entries/base.html")
        with Load(cluster.lb.ip, 443, paths=("/", "/version", "/healthz"), clients=clients, pause=0.1) as load:
            time.sleep(2)
            code, out, seconds = cluster.orchestrate("orch.deploy")
            time.sleep(2)
        summary = load.summary()
        assert code == 0, out[-4000:]
        rolling = {"deploy s": seconds, "requests": summary["requests"],
                   "failed": summary["failed"], "p50 ms": summary["p50_ms"],
                   "p99 ms": summary["p99_ms"], "req/s": summary["rps"]}
    finally:
        cluster.down()
    return figures, rows, rolling


def _salt_json(host, args, timeout=3600):
    _, out = host.exec(["webstack-salt-call", "--out=json", *args], timeout=timeout)
    return json.loads(out[out.index("{"):])["local"]


def bench_backup(scale=70, load_seconds=90, rate=50):
    """Backups on a single server with `backup:enabled`: a database of pgbench's tables at
    ``scale`` (70: about 1 GB), a full backup (with the uploads' snapshot), the recovery
    point under a steady write load (pgbench at ``rate`` transactions a second: every second,
    how long ago the newest archived WAL segment was archived, i.e. the commits a lost disk
    would take with it), a restore of the latest state, and a drill."""
    remove_all(PREFIX + "backup")
    host = Host.start(SALT_IMAGE, name=PREFIX + "backup", publish=(80, 443), hostname="bench1")
    try:
        host.put_dir(str(REPO), "/root/webstack")
        write_local_pillar(host, {"backup": {"enabled": True}})
        timed(host, "cd /root/webstack && ./bootstrap.sh")
        pgbench = "runuser -u postgres -- /usr/lib/postgresql/17/bin/pgbench"
        figures = {"pgbench init s": round(timed(host, f"{pgbench} -i -q -s {scale} {APP}", timeout=3600), 1)}
        _, size = host.exec(["runuser", "-u", "postgres", "--", "psql", "-XAtc",
                             f"SELECT pg_database_size('{APP}') / 1048576"])
        figures["database MB"] = int(size.strip())
        done = _salt_json(host, ["webstack_backup.backup", "kind=full"])
        figures["full backup s"] = done["seconds"]
        _, repo = host.exec(["du", "-sm", "/var/backups/webstack/pg"])
        figures["repository MB"] = int(repo.split()[0])
        host.exec(["sh", "-c", f"nohup {pgbench} -n -c 2 -R {rate} -T {load_seconds} {APP} >/tmp/pgbench.log 2>&1 &"])
        lags = []
        for _ in range(load_seconds - 5):
            time.sleep(1)
            _, lag = host.exec(["runuser", "-u", "postgres", "--", "psql", "-XAtc",
                                "SELECT extract(epoch FROM now() - last_archived_time) FROM pg_stat_archiver"])
            lags.append(float(lag.strip() or "nan"))
        time.sleep(10)
        _, before = host.exec(["runuser", "-u", "postgres", "--", "psql", "-d", APP, "-XAtc",
                               "SELECT count(*) FROM pgbench_history"])
        figures["recovery point under load, worst s"] = round(max(lags), 1)
        figures["recovery point under load, mean s"] = round(statistics.mean(lags), 1)
        done = _salt_json(host, ["webstack_backup.restore", "target=latest", "confirm=True"])
        figures["restore (latest) s"] = done["seconds"]
        figures["restore: replay and start s"] = done["phases"].get("recover", 0.0)
        _, after = host.exec(["runuser", "-u", "postgres", "--", "psql", "-d", APP, "-XAtc",
                              "SELECT count(*) FROM pgbench_history"])
        figures["rows committed, lost by the restore"] = int(before.strip()) - int(after.strip())
        figures["drill s"] = _salt_json(host, ["webstack_backup.drill"])["seconds"]
        return figures
    finally:
        host.remove()


def _sections(path):
    """The ``## `` sections of an earlier bench.md: {title: its lines}."""
    found, title = {}, None
    for line in path.read_text().splitlines() if path.exists() else []:
        if line.startswith("## "):
            title = line[3:]
            found[title] = []
        if title:
            found[title].append(line)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="wsgi,apply,rolling,backup")
    parser.add_argument("--duration", type=int, default=6, help="seconds of load per measurement")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    RESULTS.mkdir(parents=True, exist_ok=True)
    earlier = _sections(RESULTS / "bench.md")
    md = ["# webstack benchmark", "",
          f"One run of `tests/bench/bench.py --parts {','.join(sorted(parts))}` on {time.strftime('%Y-%m-%d')}, "
          f"on this machine ({CORES} cores); a part not run keeps its section of the run before. Figures from one "
          "machine: compare them with each other, not with other machines.", ""]
    hosts = {}
    try:
        if parts & {"wsgi", "apply"}:
            log("starting one container per WSGI server")
            hosts, first = start_servers()
            md += ["## First bootstrap", "", "| server | first `./bootstrap.sh` s |", "| --- | ---: |"]
            md += [f"| {s} ({'fresh Debian 13, Salt included' if s == 'gunicorn' else 'Salt preinstalled'}) | "
                   f"{first[s]:.0f} |" for s in SERVERS] + [""]
        elif "First bootstrap" in earlier:
            md += earlier["First bootstrap"]
        if "wsgi" in parts:
            runs = bench_servers(hosts, args.duration, PASSES)
            (RESULTS / "wsgi.json").write_text(json.dumps(runs, indent=1))
            rows = mean_rows(runs)
            chart(rows, RESULTS / "wsgi.png")
            md += ["## WSGI servers", "",
                   f"wrk inside each server's container, {CONNECTIONS} connections, {args.duration} s per run after "
                   f"a 1 s warm-up, each setting {PASSES} times; plain view `/version` (no database), db view `/` "
                   f"(20 rows from PostgreSQL rendered by a template). Default settings: {2 * CORES + 1} workers "
                   "(2 x cores + 1) of 1 thread. "
                   "Chart: `wsgi.png`.", ""]
            md += servers_tables(rows) + [""]
        elif "WSGI servers" in earlier:
            md += earlier["WSGI servers"]
        if "apply" in parts or "rolling" in parts:
            apply_rows = bench_single_apply(hosts) if hosts else []
            for host in hosts.values():
                host.remove()
            hosts = {}
            figures, cluster_rows, rolling = bench_cluster()
            md += ["## Idempotent apply, nothing to change", "", "Median of 5 runs (single) or 3 (cluster), and "
                   "the times of its floor (a salt-call of one trivial state, on the same host).", "",
                   "| role | seconds | x floor |", "| --- | ---: | ---: |"]
            for group in (apply_rows, cluster_rows):
                floor = group[-1][1] if group else None
                md += [f"| {name} | {value:.1f} | {value / floor:.1f} |" for name, value in group]
            md += [""]
            md += ["| cluster | seconds |", "| --- | ---: |"]
            md += [f"| {name} | {value:.1f} |" for name, value in figures.items()] + [""]
            md += ["## Rolling deploy under load", "",
                   "orch.deploy of a code change while 50 clients send GETs through HAProxy (keep-alive, "
                   "0.1 s pause).", "", "| " + " | ".join(rolling) + " |", "|" + " ---: |" * len(rolling),
                   "| " + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in rolling.values())
                   + " |", ""]
        else:
            for title in ("Idempotent apply, nothing to change", "Rolling deploy under load"):
                md += earlier.get(title, [])
        if "backup" in parts:
            figures = bench_backup()
            md += ["## Backups and restore", "",
                   "A single server with `backup:enabled`: pgbench's tables at scale 70, a full backup (with the "
                   "uploads' snapshot), then 90 s of pgbench at 50 transactions a second while, every second, the "
                   "age of the newest archived WAL segment is read (the commits a lost disk would take with it; "
                   "`backup:archive_timeout` is 60 s), then a restore of the latest state and a drill.", "",
                   "| " + " | ".join(figures) + " |", "|" + " ---: |" * len(figures),
                   "| " + " | ".join(str(v) for v in figures.values()) + " |", ""]
        elif "Backups and restore" in earlier:
            md += earlier["Backups and restore"]
    finally:
        for host in hosts.values():
            host.remove()
    (RESULTS / "bench.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
