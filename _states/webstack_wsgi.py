"""
A WSGI server's graceful reload on a new release, where it is not a signal to
its program (that is ``webstack_process``'s ``reload_signal``, Gunicorn's SIGHUP).

.. code-block:: yaml

    webstack-uwsgi-service-webstack_wsgi-reloaded:
      webstack_wsgi.reloaded:
        - name: /srv/webapp/run/uwsgi.fifo      # uWSGI's master FIFO
        - server: uwsgi
        - stats_socket: /srv/webapp/run/uwsgi-stats.sock
        - watch:
          - webstack_release: webstack-app-release-webstack_release-deployed

    webstack-apache-service-webstack_wsgi-reloaded:
      webstack_wsgi.reloaded:
        - name: webapp                           # the WSGIDaemonProcess group
        - server: mod_wsgi
        - processes: 5
        - watch:
          - webstack_release: webstack-app-release-webstack_release-deployed

On its own the state changes nothing; when a watched state changed (a new release
went live), ``mod_watch`` reloads the server one worker at a time and waits until
every worker runs the new release: uWSGI's chain reload
(``webstack_uwsgi.chain_reload``), mod_wsgi's rolling restart of its daemon
processes (``webstack_modwsgi.rolling_restart``).
"""

__virtualname__ = "webstack_wsgi"

# server -> (execution function, its arguments besides name and timeout, what it does)
RELOADS = {
    "uwsgi": ("webstack_uwsgi.chain_reload", ("stats_socket",), "chain-reloaded"),
    "mod_wsgi": ("webstack_modwsgi.rolling_restart", ("processes",), "restarted one daemon process at a time"),
}


def __virtual__():
    missing = [fun for fun, _, _ in RELOADS.values() if fun not in __salt__]
    if missing:
        return (False, f"the execution functions {', '.join(missing)} are not loaded")
    return __virtualname__


def _unknown_server(ret, server):
    """True, with ``ret`` failed and the expected names in its comment, when this
    state has no reload for ``server``."""
    if server in RELOADS:
        return False
    ret["result"] = False
    ret["comment"] = f"server {server!r}: expected one of {', '.join(RELOADS)}"
    return True


def reloaded(name, server, timeout=120, **kwargs):
    """
    Nothing to do unless a watched state changed (see ``mod_watch``).

    name
        uWSGI: its master FIFO (``master-fifo =``); mod_wsgi: the
        ``WSGIDaemonProcess`` group.
    server
        ``uwsgi`` or ``mod_wsgi``.
    stats_socket
        uWSGI: its stats server's unix socket (``stats =``).
    processes
        mod_wsgi: how many daemon processes the group has.
    timeout
        Seconds to wait for every worker to be replaced.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if _unknown_server(ret, server):
        return ret
    ret["comment"] = "No watched change: the workers keep running"
    return ret


def mod_watch(name, sfun=None, server=None, timeout=120, **kwargs):
    """
    Reload ``server`` one worker at a time and wait until every worker runs the
    new release.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if sfun != "reloaded":
        ret["comment"] = f"Nothing to do on a watch event for {sfun}"
        return ret
    if _unknown_server(ret, server):
        return ret
    function, arg_names, action = RELOADS[server]
    if __opts__["test"]:
        ret["result"] = None
        ret["changes"] = {"workers": {"old": None, "new": "replaced one at a time"}}
        ret["comment"] = f"{server} ({name}) would be {action}"
        return ret
    try:
        res = __salt__[function](name, *[kwargs.get(arg) for arg in arg_names], timeout=timeout)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = f"Reload of {server} ({name}) failed: {exc}"
        return ret
    ret["changes"] = {"workers": {"old": res["old"], "new": res["new"]}}
    ret["comment"] = f"{server} ({name}) {action}: {len(res['new'])} workers replaced in {res['seconds']} s"
    return ret
