"""
uWSGI's graceful reload on a new release, as a state.

.. code-block:: yaml

    webstack-uwsgi-service-webstack_uwsgi-chain_reloaded:
      webstack_uwsgi.chain_reloaded:
        - name: /srv/webapp/run/uwsgi.fifo
        - stats_socket: /srv/webapp/run/uwsgi-stats.sock
        - watch:
          - webstack_release: webstack-app-release-webstack_release-deployed

On its own the state changes nothing; when a watched state changed (a new
release went live), ``mod_watch`` chain-reloads the workers one at a time and
waits until all of them have been replaced.
"""

__virtualname__ = "webstack_uwsgi"


def __virtual__():
    if "webstack_uwsgi.chain_reload" not in __salt__:
        return (False, "the webstack_uwsgi execution module is not loaded")
    return __virtualname__


def chain_reloaded(name, stats_socket, timeout=120):
    """
    Nothing to do unless a watched state changed (see ``mod_watch``).

    name
        The master FIFO (``master-fifo =`` in the uWSGI config).
    stats_socket
        The stats server's unix socket (``stats =``).
    timeout
        Seconds to wait for every worker to be replaced.
    """
    return {"name": name, "result": True, "changes": {},
            "comment": "No watched change: the workers keep running"}


def mod_watch(name, sfun=None, stats_socket=None, timeout=120, **_):
    """
    Chain-reload uWSGI through its master FIFO ``name`` and wait until every
    worker runs the new release.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if sfun != "chain_reloaded":
        ret["comment"] = f"Nothing to do on a watch event for {sfun}"
        return ret
    if __opts__["test"]:
        ret["result"] = None
        ret["changes"] = {"workers": {"old": None, "new": "replaced one at a time"}}
        ret["comment"] = f"uWSGI would be chain-reloaded through {name}"
        return ret
    try:
        res = __salt__["webstack_uwsgi.chain_reload"](name, stats_socket, timeout=timeout)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = f"Chain reload through {name} failed: {exc}"
        return ret
    ret["changes"] = {"workers": {"old": res["old"], "new": res["new"]}}
    ret["comment"] = f"uWSGI chain-reloaded: {len(res['new'])} workers replaced in {res['seconds']} s"
    return ret
