"""
Health checks as a state: succeeds with no changes when the application answers,
fails naming the check otherwise. It never changes the host.

.. code-block:: yaml

    webstack-app-health-webstack_health-ok:
      webstack_health.ok:
        - name: /healthz
        - unix_socket: /srv/webapp/run/gunicorn.sock
        - retries: 30
"""

__virtualname__ = "webstack_health"


def __virtual__():
    if "webstack_health.check" not in __salt__:
        return (False, "the webstack_health execution module is not loaded")
    return __virtualname__


def ok(name, **kwargs):
    """
    GET ``name`` (a path such as ``/healthz``) and expect ``expect`` (200).
    Arguments are those of ``webstack_health.check``. Under ``test=True`` the
    check is tried once and a failure is only reported in the comment: the
    check changes nothing, so it is never among the states that ``test=True``
    predicts will change (the real run deploys and starts what answers it
    first, then checks).
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if __opts__["test"]:
        kwargs = dict(kwargs, retries=0)
    res = __salt__["webstack_health.check"](name, **kwargs)
    where = kwargs.get("unix_socket") or f"{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 80)}"
    if res["ok"]:
        ret["comment"] = f"GET {name} on {where}: {res['status']} after {res['tries']} tries"
        return ret
    detail = res["error"] or f"status {res['status']}: {res['body'][:300]}"
    if __opts__["test"]:
        ret["comment"] = (f"GET {name} on {where} does not answer yet ({detail}); "
                          "the real run checks it after the states before it")
        return ret
    ret["result"] = False
    ret["comment"] = f"Health check GET {name} on {where} failed after {res['tries']} tries: {detail}"
    return ret
