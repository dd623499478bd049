"""Helpers for the tests of role single (tests/integration/test_single.py and the tests
that switch WSGI servers and process managers on the same kind of host)."""

import re
import time

import requests
import yaml

from tests.support.load import DEPLOY_PAUSE, Load, no_failure

APP = "webapp"
CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def csrf_session(base, path="/"):
    """A session that GET ``base + path`` as a browser does first: (session, the form's CSRF
    token); the token's cookie is in the session."""
    session = requests.Session()
    resp = session.get(base + path, timeout=10)
    assert resp.status_code == 200, resp.text[:500]
    return session, CSRF_TOKEN.search(resp.text).group(1)


def psql(host, sql):
    """One SQL statement as postgres in the app's database; the output, unaligned."""
    _, out = host.exec(["su", "postgres", "-s", "/bin/sh", "-c", f"psql -d {APP} -At -c \"{sql}\""])
    return out.strip()


def generated_secrets(host, path="/etc/webstack/pillar/secrets.sls"):
    """The secrets that `./bootstrap.sh` generated into ``path``: {"redis:password": ..., ...}."""
    _, text = host.exec(["cat", path])
    return {f"{section}:{key}": value for section, values in yaml.safe_load(text)["webstack"].items()
            for key, value in values.items()}


def summary_changed(output):
    """Changed-state counts from Salt's highstate summary lines."""
    return [int(n) for n in re.findall(r"changed=(\d+)", output)]


# Salt's terse line for a state that is not clean: what `./bootstrap.sh` prints for
# each state that changed (test=True: would change) or failed.
_TERSE = re.compile(r"^\s*Name: (.+?) - Function: (\S+) - Result: (\w+) - Started:", re.M)


# Salt loads its postgres states only where psql is installed: on a host without it,
# test=True runs a stand-in (salt/webstack/postgres/database.sls) with the same name.
_STAND_IN = {"postgres_user.present": "postgres", "postgres_database.present": "postgres",
             "test.configurable_test_state": "postgres"}


def states_marked(output, result):
    """Sorted (name, function) pairs of the states that a `./bootstrap.sh` output marks
    with ``result``: 'Changed' in a real run, 'Differs' in a --test run (Salt's terse
    lines). Fails on any state that failed (Salt prints those in full)."""
    assert not re.search(r"^\s*Result: False", output, re.M), f"a state failed:\n{output[-4000:]}"
    found = sorted((name, _STAND_IN.get(func, func)) for name, func, res in _TERSE.findall(output)
                   if res == result)
    assert not [line for line in _TERSE.findall(output) if line[2] not in ("Changed", "Differs")], output[-4000:]
    return found


def assert_predicted_exactly(test_output, real_output):
    """What `./bootstrap.sh --test` said would change is what `./bootstrap.sh` then changed."""
    predicted, changed = states_marked(test_output, "Differs"), states_marked(real_output, "Changed")
    assert changed, f"the real run changed nothing:\n{real_output[-3000:]}"
    assert predicted == changed, (
        f"predicted but not changed: {sorted(set(predicted) - set(changed))}; "
        f"changed but not predicted: {sorted(set(changed) - set(predicted))}")
    return changed


def pids(host, pattern):
    """{pid: (user, ppid)} of the processes whose command line matches ``pattern``."""
    _, out = host.exec(["ps", "-eo", "pid=,ppid=,user:20=,args="])
    found = {}
    for line in out.splitlines():
        pid, ppid, user, args = line.split(None, 3)
        if re.search(pattern, args):
            found[int(pid)] = (user, int(ppid))
    return found


# the processes that serve the app, per wsgi:server
SERVING = {"gunicorn": r"-m gunicorn", "uwsgi": r"uwsgi-core --ini", "mod_wsgi": rf"\(wsgi:{APP}\)"}


def serving_pids(host, wsgi):
    """The PIDs a graceful reload keeps (the parent) and the ones it replaces (the workers)."""
    if wsgi == "mod_wsgi":
        apache = pids(host, r"^/usr/sbin/apache2")
        parent = {pid for pid, (user, _) in apache.items() if user == "root"}
        return parent, set(pids(host, SERVING[wsgi]))
    procs = pids(host, SERVING[wsgi])
    parent = {pid for pid, (_, ppid) in procs.items() if ppid not in procs}
    return parent, set(procs) - parent


def versions(url, n=10):
    """The release ids that ``n`` GET /version answered with."""
    return {requests.get(url + "/version", timeout=10).text.strip() for _ in range(n)}


def deploy_under_load(server, wsgi, timings, key, clients=50):
    """A code change, deployed by `./bootstrap.sh` while ``clients`` send GETs through the web
    server, each on its keep-alive connection with DEPLOY_PAUSE seconds between two requests.
    Returns (bootstrap exit code, its output, the load summary, the old and the new release
    id); fails unless every worker serves the new release within 30 s after it."""
    host = server.host
    url = host.url()
    before = requests.get(url + "/version", timeout=10).text.strip()
    host.exec(f"echo '# release of {key} {time.time()}' >> /root/webstack/example/exampleproject/urls.py")
    with Load("127.0.0.1", int(url.rsplit(":", 1)[1]), paths=("/", "/version", "/healthz"), clients=clients,
              pause=DEPLOY_PAUSE, tls=url.startswith("https:")) as load:
        time.sleep(2)
        code, out, seconds = server.run_bootstrap()
        time.sleep(2)
    summary = load.summary()
    timings[f"{key}_seconds"] = seconds
    timings[f"{key}_requests"] = summary["requests"]
    timings[f"{key}_failed"] = summary["failed"]
    timings[f"{key}_p99_ms"] = summary["p99_ms"] or 0.0
    assert code == 0, out[-3000:]
    _, current = host.exec(f"readlink /srv/{APP}/current")
    new_id = current.strip().split("/")[-1]
    deadline = time.monotonic() + 30
    while versions(url) != {new_id}:
        assert time.monotonic() < deadline, f"the workers never all served the new release {new_id}"
        time.sleep(0.5)
    return summary, before, new_id


def reload_under_load(server, wsgi, timings, key):
    """:py:func:`deploy_under_load`, then what a graceful reload promises: every answer a 2xx,
    no socket error, the parent process kept, every worker replaced. Returns the old and the
    new release id."""
    host = server.host
    parent, workers = serving_pids(host, wsgi)
    summary, before, new_id = deploy_under_load(server, wsgi, timings, key)
    ok, why = no_failure(summary)
    assert ok, why
    assert new_id != before
    new_parent, new_workers = serving_pids(host, wsgi)
    assert new_parent == parent, f"{wsgi}'s parent process was restarted instead of reloaded"
    assert workers and new_workers and not workers & new_workers, "a worker of the old release survived"
    return before, new_id
