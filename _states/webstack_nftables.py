"""
A table of the formula's own nftables rules, loaded from its file (the
``webstack_nftables`` execution module).

.. code-block:: yaml

    Only the app and worker nodes reach Memcached:
      webstack_nftables.table_loaded:
        - name: webstack_memcached
        - path: /etc/webstack/memcached-firewall.nft
"""

__virtualname__ = "webstack_nftables"


def __virtual__():
    if "webstack_nftables.current" not in __salt__:
        return (False, "the webstack_nftables execution module is not loaded")
    return __virtualname__


def table_loaded(name, path):
    """
    Make sure the table ``inet <name>`` in the kernel is the one the file ``path``
    makes: loaded again when the file changed, the table was edited by hand, or it
    is gone.

    name
        The table, ``webstack_<name>``.
    path
        Its rules file (it replaces the table whole).
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    mod = "webstack_nftables."
    try:
        if __salt__[mod + "current"](name, path):
            ret["comment"] = f"Table inet {name} is the one {path} makes"
            return ret
        old = "present, not as " + path + " makes it" if __salt__[mod + "live"](name) else None
    except FileNotFoundError:
        old = None  # test mode before the file exists
    except Exception as exc:  # pylint: disable=broad-except
        ret.update(result=False, comment=str(exc))
        return ret
    changes = {"table": {"old": old, "new": f"loaded from {path}"}}
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"Table inet {name} would be loaded from {path}")
        return ret
    try:
        __salt__[mod + "load"](name, path)
    except Exception as exc:  # pylint: disable=broad-except
        ret.update(result=False, comment=str(exc))
        return ret
    ret.update(changes=changes, comment=f"Table inet {name} loaded from {path}")
    return ret
