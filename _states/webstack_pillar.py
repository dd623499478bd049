"""
State that stops a run on an invalid ``webstack`` pillar, before anything changes.

.. code-block:: yaml

    webstack-validate-pillar-webstack_pillar-validated:
      webstack_pillar.validated:
        - name: webstack
        - order: 1
        - failhard: True
"""

__virtualname__ = "webstack_pillar"


def __virtual__():
    if "webstack_pillar.validate" not in __salt__:
        return (False, "the webstack_pillar execution module is not loaded")
    return __virtualname__


def validated(name, roles=None):
    """
    Succeed, with no changes, when the ``webstack`` pillar is valid for ``roles`` and
    every address this minion reads from the Salt mine can be used; fail with one line
    per faulty key or minion otherwise. It never changes the host, so it behaves the
    same with ``test=True``.

    name
        A label for the check (the pillar key, usually ``webstack``).
    roles
        The roles to validate for; default ``webstack:roles`` (none: role single).
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    errors = __salt__["webstack_pillar.validate"](roles=roles)
    if errors:
        ret["result"] = False
        ret["comment"] = "Invalid pillar, nothing was changed:\n" + "\n".join(errors)
    else:
        ret["comment"] = "Pillar webstack is valid for roles: " + ", ".join(
            roles or __salt__["webstack_pillar.public"]("roles") or ["single"]
        )
    return ret
