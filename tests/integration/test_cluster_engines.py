"""
The other engines on a cluster, brought up together by one `orch.deploy` from scratch: the
noticeboard (tests/projects/noticeboard, as its authors wrote it) on MariaDB, with Memcached
as its cache and RQ as its task queue (Redis beside them as RQ's broker), behind Nginx as the
load balancer with Varnish in front, the uploads on GlusterFS. A master and four minions
on Debian 13: db1 (the database, the cache and the storage), app1, app2 (an app and RQ's
worker) and lb1. Its pillar: conftest's _engines_pillar.
"""

import concurrent.futures
import json
import re
import time
import uuid

import requests
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.integration.conftest import SALT_IMAGE
from tests.support.cluster import (
    APP_HEADERS,
    ENGINES_UID,
    HEADERS,
    deploy_under_load,
    failed_steps,
    minion_changes,
    orch_result,
    why_failed,
)
from tests.support.containers import Host, tcp_reaches, wait_until
from tests.support.load import no_failure
from tests.support.single import APP, CSRF_TOKEN

CLIENTS = 50
SERVED_BY = re.compile(r"Served by (\S+)</p>")


def _mariadb(db1, sql):
    _, out = db1.exec(["mariadb", "--batch", "--skip-column-names", APP, "-e", sql])
    return out.strip()


def _greeting(host, address):
    """The first packet MariaDB sends a client that connects from ``host``: its greeting, or
    the error it gives a host that no account may log in from."""
    script = (f"import socket; s = socket.create_connection(({address!r}, 3306), timeout=5); "
              "print(s.recv(512))")
    _, out = host.exec(["python3", "-c", script])
    return out


def _get(cluster_engines, path, **headers):
    resp = requests.get(f"https://{cluster_engines.lb.ip}{path}", headers=dict(HEADERS, **headers), timeout=10)
    assert resp.status_code == 200, (path, resp.status_code, resp.text[:500])
    return resp


def test_one_orch_deploy_brings_up_every_engine(cluster_engines):
    """Every step ran; MariaDB and Memcached listen on db1's private address (and loopback),
    the app's MariaDB user may log in from the app nodes only (their addresses from the mine)
    and over TLS only, MariaDB's certificate is the formula's (for db1's private address, its
    key MariaDB's alone), and the app's connection is TLS;
    RQ's worker runs on app2 alone, no Celery anywhere; lb1 runs Nginx and Varnish, no
    HAProxy."""
    c = cluster_engines
    assert failed_steps(c.first) == []
    db1 = c.minions["db1"]
    _, sockets = db1.exec("ss -Hltn")
    listening = {line.split()[3] for line in sockets.splitlines()}
    assert {f"{db1.ip}:3306", f"{db1.ip}:11211", "127.0.0.1:11211"} <= listening, sockets
    accounts = dict(line.split("\t") for line in _mariadb(
        db1, f"SELECT Host, ssl_type FROM mysql.user WHERE User = '{APP}'").splitlines())
    assert accounts == {c.minions["app1"].ip: "ANY", c.minions["app2"].ip: "ANY"}, accounts  # REQUIRE SSL
    command = ('python manage.py shell -c "from django.db import connection; cursor = connection.cursor(); '
               "cursor.execute('SHOW SESSION STATUS LIKE %s', ['Ssl_version']); print(cursor.fetchone()[1])\"")
    _, out = c.master.exec(["salt", "--out=json", "--static", "app1", "webstack_app.run", command])
    assert json.loads(out)["app1"]["stdout"].splitlines()[-1] in ("TLSv1.2", "TLSv1.3"), out
    assert _mariadb(db1, "SELECT @@ssl_cert") == "/etc/mysql/webstack-tls/server.crt"
    _, san = db1.exec(["openssl", "x509", "-in", "/etc/mysql/webstack-tls/server.crt", "-noout", "-ext",
                       "subjectAltName"])
    assert f"IP Address:{db1.ip}" in san, san
    assert db1.exec(["stat", "-c", "%U %a", "/etc/mysql/webstack-tls/server.key"])[1].split() == ["mysql", "600"]
    assert "is not allowed to connect" in _greeting(c.lb, db1.ip)
    assert "is not allowed" not in _greeting(c.minions["app1"], db1.ip)
    for node in ("app1", "app2"):
        _, programs = c.minions[node].exec("supervisorctl status", check=False)
        assert (f"{APP}-rq " in programs) is (node == "app2"), (node, programs)
        assert f"{APP}-celery" not in programs, (node, programs)
    lb = c.lb
    assert lb.exec("pgrep -x nginx", check=False)[0] == 0 and lb.exec("pgrep -x varnishd", check=False)[0] == 0
    assert lb.exec("pgrep -x haproxy", check=False)[0] == 1


def test_a_notice_posted_through_one_node_is_a_row_on_db1_read_through_the_other_and_published_by_rq(
        cluster_engines):
    """Posted through the load balancer (HTTPS, Nginx, Varnish passes a POST), with an emoji: a
    row in MariaDB on db1; RQ's worker on app2 publishes it; each app node, asked directly,
    shows it; the cache in Memcached counts across both app nodes."""
    c = cluster_engines
    base = f"https://{c.lb.ip}"
    session = requests.Session()
    form = session.get(base + "/new/", headers=HEADERS, timeout=10)
    assert form.status_code == 200 and form.headers["X-Cache"] == "MISS", form.status_code
    token = CSRF_TOKEN.search(form.text).group(1)
    title = f"Cluster 🎉 {uuid.uuid4().hex[:6]}"
    resp = session.post(base + "/new/", data={"csrfmiddlewaretoken": token, "title": title, "body": "hello"},
                        headers=dict(HEADERS, Referer="https://localhost/new/"), allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text[:500]
    db1 = c.minions["db1"]
    assert _mariadb(db1, f"SELECT title FROM notices_notice WHERE title = '{title}'") == title
    deadline = time.monotonic() + 60
    while _mariadb(db1, f"SELECT host FROM notices_notice WHERE title = '{title}' AND published_at IS NOT NULL") \
            != "app2":
        assert time.monotonic() < deadline, c.minions["app2"].exec(f"tail -20 /var/log/webstack/{APP}-rq.log")[1]
        time.sleep(0.5)
    for node in ("app1", "app2"):
        page = requests.get(f"http://{c.minions[node].ip}/", headers=APP_HEADERS,
                            timeout=10).text
        assert title in page and f"Served by {node}<" in page and "on app2" in page, (node, page[:800])
    counts = [int(requests.get(f"http://{c.minions[n].ip}/cache/", timeout=10,
                               headers=APP_HEADERS).text.split("=")[1])
              for n in ("app1", "app2", "app1", "app2")]
    assert counts == list(range(counts[0], counts[0] + 4)), counts


def _media(host):
    """Where ``host`` mounts the shared uploads (its releases' media directory), and from what."""
    _, out = host.exec(["findmnt", "-n", "-t", "fuse.glusterfs", "-o", "TARGET,SOURCE"])
    target, source = out.split()
    return target, source


def test_an_upload_through_app1_is_served_by_app2_from_the_shared_volume_and_survives_a_remount(
        cluster_engines):
    """A notice with an attachment posted to app1 directly: the file is on db1's GlusterFS brick,
    owned by app:uid and the web server's group on both nodes; app2's Nginx serves it. app2
    unmounts the uploads and mounts them again from its fstab: the file is back, as it was.
    Uploads that app2 kept in its own directory before are copied into the volume by the
    next run (app1 serves them), the directory kept aside. Only the app and worker nodes may
    mount the volume (auth.allow)."""
    c = cluster_engines
    app1, app2, db1 = c.minions["app1"], c.minions["app2"], c.minions["db1"]
    media, source = _media(app2)
    assert source == f"{db1.ip}:/uploads" and _media(app1) == (media, source)
    for node in (app1, app2):  # the volume's root: the app's uid, www-data's gid (33), setgid
        assert node.exec(["stat", "-c", "%u %g %a", media])[1].split() == [str(ENGINES_UID), "33", "2770"]
    form = requests.get(f"http://{app1.ip}/new/", headers=APP_HEADERS, timeout=10)
    token = CSRF_TOKEN.search(form.text).group(1)
    title, content = f"Flyer {uuid.uuid4().hex[:6]}", uuid.uuid4().hex.encode()
    resp = requests.post(f"http://{app1.ip}/new/", data={"csrfmiddlewaretoken": token, "title": title, "body": "x"},
                         files={"attachment": ("flyer.txt", content, "text/plain")},
                         headers=dict(APP_HEADERS, Referer="https://localhost/new/",
                                      Cookie=f"csrftoken={form.cookies['csrftoken']}"),
                         allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text[:500]
    name = _mariadb(db1, f"SELECT attachment FROM notices_notice WHERE title = '{title}'")
    assert name.startswith("attachments/"), name
    assert db1.exec(["stat", "-c", "%u %g", f"/srv/glusterfs/uploads/{name}"])[1].split() == [str(ENGINES_UID), "33"]

    def fetch():
        return requests.get(f"http://{app2.ip}/media/{name}", headers=APP_HEADERS, timeout=10)

    got = fetch()
    assert got.status_code == 200 and got.content == content, got.status_code
    app2.exec(["umount", media])
    assert fetch().status_code == 404  # the node's own empty directory
    app2.exec(["mount", media])  # from /etc/fstab
    got = fetch()
    assert got.status_code == 200 and got.content == content, got.status_code
    assert app2.exec(["stat", "-c", "%u %g %a", media])[1].split() == [str(ENGINES_UID), "33", "2770"]
    # uploads that a node kept before the cluster had a storage node: the next run copies them
    # into the volume and keeps the old directory aside
    app2.exec(["umount", media])
    app2.exec(f"mkdir -p {media}/before && echo kept > {media}/before/flyer.txt && chown -R {ENGINES_UID}:33 {media}")
    _, out = c.master.exec(["salt", "--out=json", "--static", "app2", "state.apply", "webstack.app.config"])
    assert '"result": false' not in out, out[-3000:]
    assert _media(app2) == (media, source)
    old = requests.get(f"http://{app1.ip}/media/before/flyer.txt", headers=APP_HEADERS, timeout=10)
    assert old.status_code == 200 and old.text == "kept\n", old.status_code
    _, kept = app2.exec(f"cat {media}.local-*/before/flyer.txt")
    assert kept == "kept\n"
    _, info = db1.exec(["gluster", "volume", "info", "uploads"])
    assert f"auth.allow: {app1.ip},{app2.ip}\n" in info, info


def test_varnish_serves_the_public_page_from_its_cache_and_never_a_session_page(cluster_engines):
    """The noticeboard's home page (public, max-age 60, no cookie) comes from the app once, then
    from Varnish; the visits page counts in the session: each visit with the session's cookie
    goes to the app and counts, never from the cache."""
    first, second = _get(cluster_engines, "/"), _get(cluster_engines, "/")
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert SERVED_BY.search(second.text).group(1) == SERVED_BY.search(first.text).group(1)
    session = requests.Session()
    counted = []
    for _ in range(3):
        resp = session.get(f"https://{cluster_engines.lb.ip}/visits/", headers=HEADERS, timeout=10)
        assert resp.status_code == 200 and resp.headers["X-Cache"] == "MISS"
        counted.append(int(re.search(r'<p class="visits">Visits: (\d+)</p>', resp.text).group(1)))
    assert counted == [1, 2, 3], counted


def test_a_new_commit_rolls_out_under_load_with_no_failed_request_and_its_page_replaces_the_cached_one(
        cluster_engines, timings):
    """A commit of the noticeboard's home template, rolled out by orch.deploy while 50
    keep-alive clients that retry nothing send GETs through Nginx and Varnish: every answer
    a 2xx, no error; each app node drained by a reload of Nginx's pool instance and back,
    RQ's worker switched, every cached page banned at the end: the home page has the new
    template at once (it was cached for 60 s)."""
    c = cluster_engines
    heading = f"<h1>Notices {uuid.uuid4().hex[:6]}</h1>"
    rq_before = c.minions["app2"].exec(f"supervisorctl pid {APP}-rq")[1].strip()
    assert heading not in _get(c, "/").text
    c.master.exec("set -e; rm -rf /root/nb; git clone -q /srv/git/noticeboard.git /root/nb; cd /root/nb; "
                  f"sed -i 's|<h1>Notices[^<]*</h1>|{heading}|' notices/templates/notices/home.html; "
                  "git -c user.name=Dev -c user.email=dev@example.org commit -qam 'A new title'; "
                  "git push -q origin main")
    code, out, summary = deploy_under_load(c, c.lb.ip, "orch.deploy", timings, "engines_rolling_deploy",
                                           paths=("/", "/health/", "/new/"), clients=CLIENTS)
    assert code == 0, why_failed(out)
    ok, why = no_failure(summary)
    assert ok, why
    steps = {res["__id__"]: res for res in orch_result(out).values()}
    for node in ("app1", "app2"):
        drain = steps[f"Take {node} out of the load balancer and wait for its sessions to end"]
        assert drain["result"] is True and "Nginx reloaded" in str(drain["changes"]), drain
    assert "Switch the workers to the release on app2" in steps
    assert steps["Ban the pages Varnish cached before the release, on lb1"]["result"] is True
    timings["engines_rolling_deploy_per_node"] = sum(
        steps[s]["duration"] for s in steps
        if s.startswith(("Take app", "Deploy on app", "Health check of app", "Put app"))) / 2000
    assert heading in _get(c, "/").text
    # app2's RQ worker restarted with the release, in app2's own deploy step
    assert c.minions["app2"].exec(f"supervisorctl pid {APP}-rq")[1].strip() != rq_before


def test_the_next_orch_deploy_changes_nothing(cluster_engines, timings):
    code, out, seconds = cluster_engines.orchestrate("orch.deploy")
    timings["engines_orch_deploy_no_change"] = seconds
    assert code == 0, why_failed(out)
    results = orch_result(out)
    assert minion_changes(results) == {}
    assert not [r for r in results.values() if r["__id__"].startswith("Ban the pages")]


def test_memcached_on_db1_answers_the_app_nodes_and_its_firewall_drops_the_others(cluster_engines):
    """Memcached listens on db1's private address for the app nodes (it has no authentication
    that the project's client can use): db1's nftables table lets app1, app2 and loopback reach
    its port; lb1 and this host are dropped. A table edited by hand is loaded again by the next
    run of the cache role."""
    c = cluster_engines
    db1 = c.minions["db1"]
    script = (f"import socket\ntry:\n    s = socket.create_connection(({db1.ip!r}, 11211), timeout=3)\n"
              "    s.sendall(b'version\\r\\n'); print(s.recv(64))\nexcept OSError as exc:\n    print(repr(exc))"
              )
    for node, answers in (("app1", True), ("app2", True), ("lb1", False), ("db1", True)):
        _, out = c.minions[node].exec(["python3", "-c", script.replace(repr(db1.ip), "'127.0.0.1'")
                                       if node == "db1" else script])
        assert ("VERSION 1.6" in out) is answers, (node, out)
    assert not tcp_reaches(db1.ip, 11211)
    _, table = db1.exec(["nft", "list", "table", "inet", "webstack_memcached"])
    assert f"elements = {{ {c.minions['app1'].ip}, {c.minions['app2'].ip} }}" in table, table
    db1.exec(["nft", "flush", "chain", "inet", "webstack_memcached", "memcached"])
    assert tcp_reaches(db1.ip, 11211)
    _, out = c.master.exec(["salt", "--out=json", "--static", "db1", "state.apply", "webstack.roles.cache"])
    assert '"result": false' not in out, out[-3000:]
    assert not tcp_reaches(db1.ip, 11211)


def _install_glusterd(host):
    """A glusterd of a stranger's own on ``host`` (apt, through the test bed's cache), running."""
    host.exec("command -v glusterd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
              "glusterfs-server >/dev/null 2>&1 || { apt-get update -q >/dev/null && "
              "DEBIAN_FRONTEND=noninteractive apt-get install -y -q glusterfs-server >/dev/null; }", timeout=600)
    host.exec("pgrep -x glusterd >/dev/null || glusterd")
    wait_until("the stranger's glusterd answers", lambda: host.exec(["gluster", "pool", "list"], check=False)[0] == 0,
               60)


def _probe(host, address, timeout=15):
    """`gluster peer probe address` from ``host``: (exit code, output); 124 when it hung (a
    probe that TLS refuses fails in 2 s, one that succeeds as fast)."""
    return host.exec(["gluster", "--mode=script", "peer", "probe", address], check=False, timeout=timeout)


def _names(pem):
    """The CNs of the certificates in a PEM text, in order."""
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem, re.S)
    return [x509.load_pem_x509_certificate(block.encode()).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0]
            .value for block in blocks]


def _brick_port(db1):
    _, out = db1.exec(["gluster", "volume", "status", "uploads", "--xml"])
    return int(re.search(r"<port>([0-9]+)</port>", out).group(1))


def test_glusterfs_admits_no_stranger_a_peer_probe_from_lb1_or_this_host_is_refused(cluster_engines):
    """db1's GlusterFS answers the storage, app and worker nodes alone: its firewall (a table of
    its own) drops lb1 and this host on glusterd's port and the bricks' ports, and management
    and I/O speak TLS with certificates the formula made, each node trusting its peers' alone.
    `gluster peer probe db1` from lb1 and from this host's network (a glusterd of a stranger's
    own on each) is refused; with db1's firewall flushed (an open network) TLS refuses it: db1
    is alone in its pool and the volume's options are as they were. The next run of the
    storage role loads the firewall again."""
    c = cluster_engines
    db1, lb1, app1 = c.minions["db1"], c.minions["lb1"], c.minions["app1"]
    _, info = db1.exec(["gluster", "volume", "info", "uploads"])
    for option in ("client.ssl: on", "server.ssl: on", "auth.ssl-allow: db1,app1,app2"):
        assert option in info, info
    assert db1.exec(["stat", "-c", "%a %U", "/etc/ssl/glusterfs.key"])[1].split() == ["600", "root"]
    for node, trusted in (("db1", ["db1", "app1", "app2"]), ("app1", ["app1", "db1"]), ("app2", ["app2", "db1"])):
        host = c.minions[node]
        assert host.exec(["test", "-f", "/var/lib/glusterd/secure-access"], check=False)[0] == 0, node
        assert _names(host.exec(["cat", "/etc/ssl/glusterfs.ca"])[1]) == trusted, node
    port = _brick_port(db1)
    assert tcp_reaches(db1.ip, 24007) is False and tcp_reaches(db1.ip, port) is False  # this host
    for node, reaches in (("app1", True), ("lb1", False)):
        for target in (24007, port):
            script = (f"import socket\ntry:\n    socket.create_connection(({db1.ip!r}, {target}), timeout=3)\n"
                      "    print('open')\nexcept OSError as exc:\n    print(repr(exc))")
            assert ("open" in c.minions[node].exec(["python3", "-c", script])[1]) is reaches, (node, target)
    assert app1.exec(["findmnt", "-n", "-t", "fuse.glusterfs"], check=False)[0] == 0

    pool = db1.exec(["gluster", "pool", "list"])[1]
    stranger = Host.start(SALT_IMAGE, name="webstack-test-e-stranger", publish=(), network="host")
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool_of_two:
            list(pool_of_two.map(_install_glusterd, (lb1, stranger)))
            probes = list(pool_of_two.map(lambda host: _probe(host, db1.ip), (lb1, stranger)))
        for host, (code, out) in zip((lb1, stranger), probes, strict=True):
            assert code != 0 and "success" not in out, (host.name, out)
        # an open network: db1's firewall flushed, lb1 reaches glusterd, whose TLS refuses it
        db1.exec(["nft", "flush", "chain", "inet", "webstack_glusterfs", "glusterfs"])
        assert tcp_reaches(db1.ip, 24007)
        # lb1's glusterd keeps the peer it failed to reach: started again without it, it connects anew
        lb1.exec("pkill -x glusterd; while pgrep -x glusterd >/dev/null; do sleep 0.2; done; "
                 "rm -f /var/lib/glusterd/peers/*")
        _install_glusterd(lb1)
        code, out = _probe(lb1, db1.ip)
        assert code != 0 and "success" not in out, out
        _, log = db1.exec(["sh", "-c", f"grep -a 'for peer {lb1.ip}:' -A2 /var/log/glusterfs/glusterd.log | "
                                       "grep -a -c 'SSL routines' || true"])
        assert int(log.strip() or 0) > 0, "db1's glusterd took lb1's connection without a TLS error"
        assert db1.exec(["gluster", "pool", "list"])[1] == pool
        assert db1.exec(["gluster", "volume", "info", "uploads"])[1] == info
        code, out = lb1.exec(["sh", "-c", f"mkdir -p /mnt/u && timeout 60 mount -t glusterfs {db1.ip}:/uploads "
                                          "/mnt/u && ls /mnt/u"], check=False)
        assert code != 0, out
    finally:
        stranger.remove()
        lb1.exec("pkill -x glusterd; pkill -x glusterfsd; true", check=False)
    _, out = c.master.exec(["salt", "--out=json", "--static", "db1", "state.apply", "webstack.roles.storage"])
    assert '"result": false' not in out, out[-3000:]
    assert not tcp_reaches(db1.ip, 24007)


LIAR_TOP = """
  'L@{node}':
    - match: compound
    - webstack.liar
"""


def test_a_minion_that_publishes_a_public_or_anothers_address_stops_orch_deploy_before_anything_changes(
        cluster_engines):
    """app1 lies in the mine (its own mine function replaced through a pillar of this test's,
    as a compromised minion would publish anything): first a public address, then app2's.
    orch.deploy stops in its preflight, naming app1 (and app2, whose address is then neither's),
    and no state of the rollout ran: lb1's pool of app nodes is as it was. With the truth
    published again, nothing is left of it."""
    c = cluster_engines
    app2, lb1 = c.minions["app2"], c.minions["lb1"]
    top = "/srv/webstack/pillar/top.sls"
    _, original = c.master.exec(["cat", top])
    pool = lb1.exec(["cat", "/etc/nginx/webstack-upstream.conf"])[1]  # the app nodes the lb sends to
    try:
        c.master.write_private(top, original + LIAR_TOP.format(node="app1"))
        for lie, expected in (("8.8.8.8", ["webstack:nodes:app1: expected a private address (10.0.0.0/8, "
                                           "172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10; or name the cluster's "
                                           "network in webstack:network:private_cidr), got '8.8.8.8'"]),
                              (app2.ip, [f"webstack:nodes:app1: expected an address of its own, got {app2.ip}, "
                                         "which app2 publishes too",
                                         f"webstack:nodes:app2: expected an address of its own, got {app2.ip}, "
                                         "which app1 publishes too"])):
            c.master.write_private("/srv/webstack/pillar/webstack/liar.sls",
                                   "mine_functions:\n  webstack_network.private_address:\n"
                                   f"    - mine_function: test.echo\n    - {lie}\n")
            code, out, _ = c.orchestrate("orch.deploy")
            assert code != 0, out[-3000:]
            for piece in expected:
                assert piece in out, (piece, why_failed(out))
            results = orch_result(out)
            assert failed_steps(results) == ["Every node has a valid pillar and can use its peers' addresses"], \
                why_failed(out)
            assert minion_changes(results) == {}
            assert not [r for r in results.values() if r["__id__"].startswith("Roll out")]
            assert lb1.exec(["cat", "/etc/nginx/webstack-upstream.conf"])[1] == pool
    finally:
        c.master.write_private(top, original)
        c.master.exec(["rm", "-f", "/srv/webstack/pillar/webstack/liar.sls"])
        c.master.exec(["salt", "app1", "saltutil.refresh_pillar", "wait=True"])
        c.master.exec(["salt", "app1", "mine.update"])
    _, out = c.master.exec(["salt", "--out=json", "--static", "lb1", "state.sls", "webstack.validate"])
    assert '"result": false' not in out, out[-3000:]
