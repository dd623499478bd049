"""
Nginx as the load balancer (the ``webstack_nginx`` execution module): its list
of app nodes, and one node drained or in service, the two halves of a rolling
deploy.

.. code-block:: yaml

    The load balancer's app nodes:
      webstack_nginx.upstream_managed:
        - name: /etc/nginx/webstack-upstream.conf
        - servers:
          - {name: app1, address: 10.0.0.3, port: 80}
          - {name: app2, address: 10.0.0.4, port: 80}
        - max_fails: 3
        - fail_timeout: 10s

    Drain app1 in the load balancer:
      webstack_nginx.drained:
        - name: app1
        - path: /etc/nginx/webstack-upstream.conf
        - timeout: 120          # until Nginx's old workers have finished their requests

    Put app1 back in the load balancer:
      webstack_nginx.ready:
        - name: app1
        - path: /etc/nginx/webstack-upstream.conf

A drained node stays drained through ``upstream_managed`` (the file keeps it).
Each change is checked with ``nginx -t`` before it goes live; ``drained`` and
``ready`` reload Nginx themselves, ``upstream_managed`` leaves the reload to the
service that watches it.
"""

__virtualname__ = "webstack_nginx"


def __virtual__():
    if "webstack_nginx.servers" not in __salt__:
        return (False, "the webstack_nginx execution module is not loaded")
    return __virtualname__


def _describe(entries):
    return [f"{s['name']} {s['address']}:{s['port']} max_fails={s['max_fails']} fail_timeout={s['fail_timeout']}"
            + (" down" if s["down"] else "") for s in entries]


def upstream_managed(name, servers, max_fails=1, fail_timeout="10s", nginx=None, conf=None):
    """
    Make sure the server list at ``name`` holds exactly ``servers`` (a list of
    ``{name, address, port}``), each with Nginx's passive health check
    ``max_fails`` and ``fail_timeout``; a node drained there now stays drained.
    The new list is checked with ``nginx -t`` (``-c conf``) and the old one put
    back if that fails. Nginx is not reloaded: watch this state.

    name
        The file, ``include``\\ d in the ``upstream`` block of Nginx's config.
    servers
        The app nodes.
    max_fails, fail_timeout
        Failed attempts within ``fail_timeout`` after which Nginx leaves a node
        alone for ``fail_timeout``.
    nginx, conf
        Nginx's program and config file, for the check (default: ``nginx`` and
        its own default config).
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    mod = "webstack_nginx."
    try:
        current = __salt__[mod + "servers"](name)
        wanted = __salt__[mod + "plan"](name, servers, max_fails=max_fails, fail_timeout=fail_timeout)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = str(exc)
        return ret
    if current == wanted and __salt__["file.file_exists"](name):
        ret["comment"] = f"Nginx's server list {name} is as wanted ({len(wanted)} server(s))"
        return ret
    changes = {"old": _describe(current), "new": _describe(wanted)}
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"Nginx's server list {name} would be written")
        return ret
    try:
        __salt__[mod + "write"](name, wanted, nginx=nginx, conf=conf)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = str(exc)
        return ret
    ret.update(changes=changes, comment=f"Nginx's server list {name} written and checked")
    return ret


def _toggle(name, path, down, timeout, pidfile, missing_ok, nginx, conf):
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    mod = "webstack_nginx."
    what = "drain" if down else "put in service"
    try:
        entry = [s for s in __salt__[mod + "servers"](path) if s["name"] == name]
        if entry and missing_ok and not __salt__[mod + "running"](pidfile):
            ret["comment"] = f"Nginx is not running (another load balancer serves, or none yet): nothing to {what}"
            return ret
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = str(exc)
        return ret
    if not entry:
        if missing_ok:
            ret["comment"] = f"Server {name} is not in Nginx's server list {path} (yet): nothing to {what}"
        else:
            ret["result"] = False
            ret["comment"] = f"Server {name} is not in Nginx's server list {path}"
        return ret
    state = "drained" if down else "in service"
    changes = {} if entry[0]["down"] == down else {"down": {"old": entry[0]["down"], "new": down}}
    if __opts__["test"]:
        if changes:
            then = ", then waited on until Nginx's old workers have finished their requests" if down else ""
            ret.update(result=None, changes=changes,
                       comment=f"Server {name} would be {'drained' if down else 'put in service'} with a reload "
                               f"of Nginx{then}")
        else:
            ret["comment"] = f"Server {name} is {state}"
        return ret
    try:
        done = __salt__[mod + "set_down"](path, name, down, pidfile=pidfile, timeout=timeout, nginx=nginx, conf=conf)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = f"Server {name}: {exc}"
        return ret
    if done["changed"]:
        ret["changes"] = changes
        ret["comment"] = f"Server {name} {'drained' if down else 'put in service'}: Nginx reloaded" + (
            f", its old workers done after {done['seconds']} s" if down else f" in {done['seconds']} s")
    else:
        ret["comment"] = f"Server {name} is {state}" + (
            f"; no old worker of Nginx left ({done['seconds']} s waited)" if down else "")
    return ret


def drained(name, path, timeout=60, pidfile="/run/nginx.pid", missing_ok=False, nginx=None, conf=None):
    """
    Make sure app node ``name`` is drained in Nginx's server list at ``path``
    (``down``: no new request goes to it) and that no request to it is still in
    flight: Nginx is reloaded where it was in service, and this waits up to
    ``timeout`` seconds until Nginx's old workers have finished their requests
    and exited.

    name
        The node, as named in the server list.
    path
        The server list (``webstack_nginx.upstream_managed``).
    timeout
        Seconds to wait for the old workers.
    pidfile
        Nginx's pid file (its master gets the reload signal).
    missing_ok
        Succeed with nothing to do when the list does not hold the node (a
        node that the next load-balancer config adds) or Nginx is not running
        (HAProxy serves until the load balancer's step switches to Nginx).
    nginx, conf
        Nginx's program and config file, for the check.
    """
    return _toggle(name, path, True, timeout, pidfile, missing_ok, nginx, conf)


def ready(name, path, timeout=60, pidfile="/run/nginx.pid", missing_ok=False, nginx=None, conf=None):
    """
    Make sure app node ``name`` is in service in Nginx's server list at
    ``path``: where it is drained, the list is changed and Nginx reloaded, and
    this waits up to ``timeout`` seconds until Nginx's new workers run (they
    send requests to it). Nginx checks its nodes passively, from the answers of
    real requests: check the node itself before (orch.deploy does).

    name
        The node, as named in the server list.
    path
        The server list (``webstack_nginx.upstream_managed``).
    timeout
        Seconds to wait for the reload.
    pidfile
        Nginx's pid file.
    missing_ok
        Succeed with nothing to do when the list does not hold the node or
        Nginx is not running.
    nginx, conf
        Nginx's program and config file, for the check.
    """
    return _toggle(name, path, False, timeout, pidfile, missing_ok, nginx, conf)
