"""
The app's Celery worker, up: it answers a ping under its own node name. The state
changes nothing; it fails, naming the program and showing its log's last lines,
when the worker does not answer (a crash loop), so that a deploy stops there.

.. code-block:: yaml

    webstack-celery-service-webstack_celery-ready:
      webstack_celery.ready:
        - name: webapp-celery
        - base_dir: /srv/webapp
        - celery_app: config.celery_app
        - settings_file: /etc/webstack/webapp/app.env
        - runas: webapp
        - log_file: /var/log/webstack/webapp-celery.log
        - onchanges:
          - webstack_process: webstack-celery-service-webstack_process-running
"""

__virtualname__ = "webstack_celery"


def __virtual__():
    if "webstack_celery.wait_ready" not in __salt__:
        return (False, "the webstack_celery execution module is not loaded")
    return __virtualname__


def ready(name, base_dir, celery_app, runas=None, **kwargs):
    """
    Wait until the worker program ``name`` answers ``celery inspect ping``, run as
    ``runas`` (the app's user: never root). Arguments are those of
    ``webstack_celery.wait_ready``; ``runas`` is named here because Salt's state
    system keeps a ``runas`` to itself unless the function names it. Under
    ``test=True`` nothing is waited for: the worker that the real run would start is
    not there yet.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if __opts__["test"]:
        ret["comment"] = f"Celery worker {name}: the real run waits until it answers a ping"
        return ret
    try:
        res = __salt__["webstack_celery.wait_ready"](base_dir, celery_app, name, runas=runas, **kwargs)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = str(exc)
        return ret
    ret["comment"] = f"Celery worker {name} answers as {res['node']} (after {res['seconds']} s)"
    return ret
