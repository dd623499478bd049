"""
The VCL in use by Varnish (the ``webstack_varnish`` execution module): a
changed VCL file is loaded and used without a restart, so the cache is kept.

.. code-block:: yaml

    Varnish uses the VCL:
      webstack_varnish.vcl_active:
        - name: /etc/varnish/webstack.vcl
        - admin_port: 6083
        - secret: /etc/varnish/secret
"""

__virtualname__ = "webstack_varnish"


def __virtual__():
    if "webstack_varnish.vcls" not in __salt__:
        return (False, "the webstack_varnish execution module is not loaded")
    return __virtualname__


def vcl_active(name, admin_port=6083, secret="/etc/varnish/secret"):
    """
    Make sure Varnish uses the VCL file ``name`` as it is now (loaded under a
    name made from its content, the old ones discarded).

    name
        The VCL file.
    admin_port
        Varnish's management port on 127.0.0.1.
    secret
        Its secret file.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    mod = "webstack_varnish."
    try:
        wanted = __salt__[mod + "vcl_name"](name)
        if not __opts__["test"]:
            __salt__[mod + "wait_ready"](admin_port, secret)  # just started: its port opens soon
        active = __salt__[mod + "vcls"](admin_port, secret)["active"]
    except Exception as exc:  # pylint: disable=broad-except
        if __opts__["test"]:
            # Varnish not started yet (the first run): it would start with this VCL and load it
            ret.update(result=None, changes={"vcl": {"old": None, "new": name}},
                       comment=f"Varnish would use {name} (it does not answer now: {exc})")
            return ret
        ret["result"] = False
        ret["comment"] = str(exc)
        return ret
    if active == wanted:
        ret["comment"] = f"Varnish uses {name} ({wanted})"
        return ret
    changes = {"vcl": {"old": active, "new": wanted}}
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"Varnish would load {name} as {wanted} and use it")
        return ret
    try:
        __salt__[mod + "load_vcl"](name, admin_port, secret)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = str(exc)
        return ret
    ret.update(changes=changes, comment=f"Varnish loaded {name} as {wanted} and uses it, its cache kept")
    return ret
