"""
State that stops a run on an invalid ``webstack`` pillar, before anything changes.

.. code-block:: yaml

    webstack-validate-pillar-webstack_pillar-validated:
      webstack_pillar.validated:
        - roles: [single]
        - order: 1
        - failhard: True
"""

__virtualname__ = "webstack_pillar"


def __virtual__():
    if "webstack_pillar.validate" not in __salt__:
        return (False, "the webstack_pillar execution module is not loaded")
    return __virtualname__


def validated(name, roles=None, addresses=None):
    """
    Succeed, with no changes, when the ``webstack`` pillar is valid for ``roles``;
    fail with one line per faulty key otherwise. It never changes the host, so it
    behaves the same with ``test=True``.

    name
        A label for the check (the pillar key, usually ``webstack``).
    roles
        The roles to validate for; default ``webstack:roles``.
    addresses
        For cluster roles: ``{minion id: private address}`` as read from the
        mine; a node without one (its minion never ran ``mine.update``, or
        ``webstack_network.private_address`` found nothing) is an error.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    errors = __salt__["webstack_pillar.validate"](roles=roles)
    missing = sorted(node for node, addr in (addresses or {}).items() if not addr)
    if missing:
        errors.append(
            "webstack:nodes: expected a private address in the Salt mine for "
            + ", ".join(missing)
            + " (run mine.update on them; see webstack_network.private_address)")
    if errors:
        ret["result"] = False
        ret["comment"] = "Invalid pillar, nothing was changed:\n" + "\n".join(errors)
    else:
        ret["comment"] = "Pillar webstack is valid for roles: " + ", ".join(
            roles or __salt__["webstack_pillar.public"]("roles", None) or ["single"]
        )
    return ret
