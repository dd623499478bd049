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


def drained(name, backend, wait=True, max_sessions=0, timeout=60, socket=None):
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
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    mod = "webstack_haproxy."
    where = f"{backend}/{name}"
    try:
        current = __salt__[mod + "server"](backend, name, socket=socket)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = str(exc)
        return ret

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


def ready(name, backend, wait=True, timeout=60, socket=None):
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
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    mod = "webstack_haproxy."
    where = f"{backend}/{name}"
    try:
        current = __salt__[mod + "server"](backend, name, socket=socket)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = str(exc)
        return ret

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
