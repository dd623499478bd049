"""
mod_wsgi's rolling restart on a new release, as a state.

.. code-block:: yaml

    webstack-apache-service-webstack_modwsgi-restarted:
      webstack_modwsgi.restarted:
        - name: webapp               # the WSGIDaemonProcess group
        - processes: 5
        - watch:
          - webstack_release: webstack-app-release-webstack_release-deployed

On its own the state changes nothing; when a watched state changed (a new
release went live), ``mod_watch`` restarts the daemon processes one at a time
and waits until each replacement has loaded the app.
"""

__virtualname__ = "webstack_modwsgi"


def __virtual__():
    if "webstack_modwsgi.rolling_restart" not in __salt__:
        return (False, "the webstack_modwsgi execution module is not loaded")
    return __virtualname__


def restarted(name, processes, timeout=120):
    """
    Nothing to do unless a watched state changed (see ``mod_watch``).

    name
        The ``WSGIDaemonProcess`` group.
    processes
        How many daemon processes the group has.
    timeout
        Seconds to wait for the whole rolling restart.
    """
    return {"name": name, "result": True, "changes": {},
            "comment": "No watched change: the daemon processes keep running"}


def mod_watch(name, sfun=None, processes=None, timeout=120, **_):
    """
    Restart the daemon processes of group ``name`` one at a time and wait until
    every replacement runs the new release.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if sfun != "restarted":
        ret["comment"] = f"Nothing to do on a watch event for {sfun}"
        return ret
    if __opts__["test"]:
        ret["result"] = None
        ret["changes"] = {"daemons": {"old": None, "new": "restarted one at a time"}}
        ret["comment"] = f"The mod_wsgi daemon processes of {name} would be restarted one at a time"
        return ret
    try:
        res = __salt__["webstack_modwsgi.rolling_restart"](name, processes, timeout=timeout)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = f"Rolling restart of the mod_wsgi daemons of {name} failed: {exc}"
        return ret
    ret["changes"] = {"daemons": {"old": res["old"], "new": res["new"]}}
    ret["comment"] = (f"mod_wsgi daemons of {name} restarted one at a time: {len(res['new'])} replaced in "
                      f"{res['seconds']} s")
    return ret
