"""
One HAProxy server drained or in service, through HAProxy's runtime API (the
``webstack_haproxy`` execution module): the two halves of a rolling deploy.

.. code-block:: yaml

    Drain app1 in the load balancer:
      webstack_haproxy.drained:
        - name: app1
        - backend: app
        - timeout: 120          # wait until app1 has no session left

    Put app1 back in the load balancer:
      webstack_haproxy.ready:
        - name: app1
        - backend: app
        - timeout: 60           # wait until HAProxy reports app1 UP

The admin state is changed only when it differs; the wait runs every time, so
a second run still fails while sessions linger or the server is not UP.
``socket`` overrides ``webstack_haproxy.socket`` (``/run/haproxy/admin.sock``).
"""

__virtualname__ = "webstack_haproxy"


def __virtual__():
    if "webstack_haproxy.server" not in __salt__:
        return (False, "the webstack_haproxy execution module is not loaded")
    return __virtualname__


def _observe(name, backend, socket, missing_ok, what):
    """The server's entry, or a return to give at once: ``missing_ok`` and HAProxy
    lacks the server (nothing to ``what``), or it cannot be read (a failure)."""
    try:
        if missing_ok and not __salt__["webstack_haproxy.has_server"](backend, name, socket=socket):
            return None, {"name": name, "result": True, "changes": {},
                          "comment": f"Server {backend}/{name} is not in HAProxy's config (yet): nothing to {what}"}
        return __salt__["webstack_haproxy.server"](backend, name, socket=socket), None
    except Exception as exc:  # pylint: disable=broad-except
        return None, {"name": name, "result": False, "changes": {}, "comment": str(exc)}


def drained(name, backend, wait=True, max_sessions=0, timeout=60, socket=None, missing_ok=False):
    """
    Make sure a server is drained (no new load-balanced traffic) and, with
    ``wait``, that it has at most ``max_sessions`` current sessions, waiting up
    to ``timeout`` seconds for them to end.

    name
        The server, as named in HAProxy's backend.
    backend
        The backend that holds it.
    wait
        Wait for the sessions to end (default ``True``).
    max_sessions
        The session count to wait for (default 0).
    timeout
        Seconds to wait for them.
    socket
        HAProxy's admin socket (default: ``webstack_haproxy.socket``).
    missing_ok
        Succeed with nothing to do when HAProxy is not set up yet or has no such
        server (a node that the next load-balancer config adds).
    """
    current, done = _observe(name, backend, socket, missing_ok, "drain")
    if done:
        return done
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    mod = "webstack_haproxy."
    where = f"{backend}/{name}"

    changes = {}
    if current["admin"] != "drain":
        changes["admin"] = {"old": current["admin"], "new": "drain"}
    if __opts__["test"]:
        sessions = f"{current['sessions']} session(s) now"
        if changes:
            ret["result"] = None
            ret["changes"] = changes
            then = f", then waited on until it has at most {max_sessions} session(s)" if wait else ""
            ret["comment"] = f"Server {where} would be drained{then} ({sessions})"
        else:
            ret["comment"] = f"Server {where} is drained ({sessions})"
        return ret

    try:
        if changes:
            now = __salt__[mod + "drain"](backend, name, socket=socket)
            changes["admin"]["new"] = now
            ret["changes"] = changes
            if now != "drain":
                ret["result"] = False
                ret["comment"] = f"Server {where} is in {now} after 'set server {where} state drain'"
                return ret
        if wait:
            count = __salt__[mod + "wait_sessions"](
                backend, name, max_sessions=max_sessions, timeout=timeout, socket=socket
            )
        else:
            count = __salt__[mod + "server"](backend, name, socket=socket)["sessions"]
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = f"Server {where}: {exc}"
        return ret
    done = "drained" if changes else "is drained"
    ret["comment"] = f"Server {where} {done}, {count} session(s) left"
    return ret


def ready(name, backend, wait=True, timeout=60, socket=None, missing_ok=False):
    """
    Make sure a server is in service (admin state ``ready``, out of drain or
    maintenance) and, with ``wait``, that HAProxy reports it ``UP`` (its health
    checks pass), waiting up to ``timeout`` seconds.

    name
        The server, as named in HAProxy's backend.
    backend
        The backend that holds it.
    wait
        Wait until HAProxy reports it UP (default ``True``).
    timeout
        Seconds to wait for it.
    socket
        HAProxy's admin socket (default: ``webstack_haproxy.socket``).
    missing_ok
        Succeed with nothing to do when HAProxy is not set up yet or has no such
        server (the next load-balancer config adds it, in service).
    """
    current, done = _observe(name, backend, socket, missing_ok, "make ready")
    if done:
        return done
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    mod = "webstack_haproxy."
    where = f"{backend}/{name}"

    changes = {}
    if current["admin"] != "ready":
        changes["admin"] = {"old": current["admin"], "new": "ready"}
    if __opts__["test"]:
        if changes:
            ret["result"] = None
            ret["changes"] = changes
            then = ", then waited on until HAProxy reports it UP" if wait else ""
            ret["comment"] = f"Server {where} would be made ready{then} (status {current['status']} now)"
        else:
            ret["comment"] = f"Server {where} is ready (status {current['status']})"
        return ret

    try:
        if changes:
            now = __salt__[mod + "ready"](backend, name, socket=socket)
            changes["admin"]["new"] = now
            ret["changes"] = changes
            if now != "ready":
                ret["result"] = False
                ret["comment"] = f"Server {where} is still in {now} after 'set server {where} state ready'"
                return ret
        if wait:
            entry = __salt__[mod + "wait_status"](backend, name, status="UP", timeout=timeout, socket=socket)
        else:
            entry = __salt__[mod + "server"](backend, name, socket=socket)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = f"Server {where}: {exc}"
        return ret
    done = "made ready" if changes else "is ready"
    ret["comment"] = f"Server {where} {done}, status {entry['status']}"
    return ret


def state_saved(name, socket=None):
    """
    Write HAProxy's server states to ``name`` (its ``server-state-file``) so
    that the reload that follows keeps every server's drain or maintenance
    state. Meant for ``onchanges`` on the config file; reports a change when it
    wrote the file, nothing when HAProxy is not running yet.

    name
        The server-state file (absolute path).
    socket
        HAProxy's admin socket (default: ``webstack_haproxy.socket``).
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if __opts__["test"]:
        if __salt__["webstack_haproxy.running"](socket=socket):
            ret["result"] = None
            ret["comment"] = f"HAProxy's server states would be saved to {name} before the reload"
        else:
            ret["comment"] = "HAProxy is not running: no server state to keep"
        return ret
    try:
        count = __salt__["webstack_haproxy.save_state"](name, socket=socket)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = f"Cannot save HAProxy's server states to {name}: {exc}"
        return ret
    if count is None:
        ret["comment"] = "HAProxy is not running: no server state to keep"
        return ret
    ret["changes"] = {"saved": {"old": None, "new": f"{count} server(s)"}}
    ret["comment"] = f"Saved the state of {count} server(s) to {name}"
    return ret
