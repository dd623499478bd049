"""
The GlusterFS volume of the shared uploads (the ``webstack_glusterfs`` execution
module): made of one brick, started, and mountable only by the given clients, over
TLS; and each node's TLS (its certificate, the ones it trusts).

.. code-block:: yaml

    The uploads volume is started:
      webstack_glusterfs.volume_present:
        - name: uploads
        - brick: 10.0.0.5:/srv/glusterfs/uploads
        - allow: [10.0.0.7, 10.0.0.8]
        - ssl_allow: [storage1, app1, app2]
"""

from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_glusterfs"


def __virtual__():
    if "webstack_glusterfs.volume" not in __salt__:
        return (False, "the webstack_glusterfs execution module is not loaded")
    return __virtualname__


def volume_present(name, brick, allow, ssl_allow=None, force=False):
    """
    Make sure the volume ``name`` exists with the one brick ``brick``, is started,
    lets only the addresses ``allow`` mount it (``auth.allow``) and speaks TLS only
    (``client.ssl`` and ``server.ssl`` on) to the certificates' names ``ssl_allow``
    (``auth.ssl-allow``). A volume with another brick is reported, not changed:
    moving a brick is the operator's call. A started volume whose TLS is turned on
    is stopped and started again (its bricks read it when they start): its clients
    lose it until they mount it again over TLS.

    name
        The volume.
    brick
        ``host:/path`` on this node.
    allow
        The clients' addresses (the app and worker nodes); none: 127.0.0.1 only.
    ssl_allow
        The CNs of the certificates that may mount it (the storage node's own, for its
        own daemons, and the app and worker nodes' minion ids).
    force
        Create the brick even on the root filesystem.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    mod = "webstack_glusterfs."
    wanted = {"auth.allow": ",".join(allow) if allow else "127.0.0.1",
              "auth.ssl-allow": ",".join(ssl_allow) if ssl_allow else "*",
              "client.ssl": "on", "server.ssl": "on"}
    defaults = {"auth.allow": "*", "auth.ssl-allow": "*", "client.ssl": "off", "server.ssl": "off"}
    try:
        if not __opts__["test"]:
            __salt__[mod + "wait_ready"]()  # glusterd just started: it answers soon
        info = __salt__[mod + "volume"](name)
    except Exception as exc:  # pylint: disable=broad-except
        if __opts__["test"]:
            ret.update(result=None, changes={"volume": {"old": None, "new": name}},
                       comment=f"Volume {name} would be created (glusterd does not answer now: {exc})")
            return ret
        ret.update(result=False, comment=str(exc))
        return ret
    if info is not None and info["bricks"] != [brick]:
        ret.update(result=False, comment=f"Volume {name} has the bricks {', '.join(info['bricks'])}, not "
                                         f"{brick}: the formula does not move a brick (glusterfs:brick_dir)")
        return ret
    old_status = info["status"] if info else None
    changes = {}
    if info is None:
        changes["volume"] = {"old": None, "new": name}
    for option, value in wanted.items():
        old = (info["options"].get(option) if info else None) or defaults[option]
        if old != value:
            changes[option] = {"old": old, "new": value}
    restart = old_status == "Started" and bool({"client.ssl", "server.ssl"} & set(changes))
    if old_status != "Started" or restart:
        changes["status"] = {"old": old_status, "new": "Started"}
    done = f"Volume {name} is started, mountable by {wanted['auth.allow']} over TLS ({wanted['auth.ssl-allow']})"
    if not changes:
        ret["comment"] = done
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"Volume {name} would be set up"
                   + (" (stopped and started again: TLS turned on)" if restart else ""))
        return ret
    try:
        if info is None:
            __salt__[mod + "create"](name, brick, force=force)
        for option, value in wanted.items():
            if option in changes:
                __salt__[mod + "set_option"](name, option, value)
        if restart:
            __salt__[mod + "stop"](name)
        if old_status != "Started" or restart:
            __salt__[mod + "start"](name)
    except Exception as exc:  # pylint: disable=broad-except
        ret.update(result=False, changes={}, comment=str(exc))
        return ret
    ret.update(changes=changes, comment=done + (" (stopped and started again: TLS turned on)" if restart else ""))
    return ret


def mod_watch(name, sfun=None, **kwargs):
    """
    A watched change of this node's TLS (a certificate made, one trusted more or less):
    ``volume_present``'s volume is stopped and started again, since its bricks read the
    certificates when they start (its clients lose it for those seconds, and mount it
    again). Salt calls this only when ``volume_present`` itself changed nothing: a volume
    it just made or started has read them already.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if sfun != "volume_present":
        ret["comment"] = f"Nothing to do on a watch event for {sfun}"
        return ret
    mod = "webstack_glusterfs."
    changes = {"status": {"old": "Started", "new": "Started (again: its bricks read the new certificates)"}}
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"Volume {name} would be stopped and started again")
        return ret
    try:
        info = __salt__[mod + "volume"](name)
        if info is None or info["status"] != "Started":
            ret["comment"] = f"Volume {name} is not started: its bricks read the certificates when it starts"
            return ret
        __salt__[mod + "stop"](name)
        __salt__[mod + "start"](name)
    except (CommandExecutionError, OSError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret.update(changes=changes, comment=f"Volume {name} stopped and started again: its bricks read the new "
                                        "certificates")
    return ret


def tls_present(name, peers):
    """
    Make sure this node speaks to GlusterFS's other nodes over TLS and trusts only
    ``peers``: its own key and self-signed certificate (its CN the minion id; the same
    that :py:func:`webstack_glusterfs.certificate <_modules.webstack_glusterfs.certificate>`
    publishes), the CA file ``name`` of its certificate and the peers', and TLS on
    glusterd's management connections (``/var/lib/glusterd/secure-access``). glusterd
    (the storage node) and the mount (a client) read them when they start: they watch
    this state.

    name
        The CA file: ``/etc/ssl/glusterfs.ca``, where GlusterFS reads it.
    peers
        Minion id -> PEM certificate: the app and worker nodes on the storage node, the
        storage node on a client (from the mine, checked by ``webstack_config``).
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    mod = "webstack_glusterfs."
    if name != __salt__[mod + "ca_path"]():
        ret.update(result=False, comment=f"GlusterFS reads its CA file at {__salt__[mod + 'ca_path']()}, not {name}")
        return ret
    try:
        now = __salt__[mod + "tls"](peers)
    except (CommandExecutionError, OSError, ValueError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    me = __grains__["id"]
    wanted_trust = [me] + sorted(peers)
    changes = {}
    if now["certificate"] is None:
        changes["certificate"] = {"old": None, "new": f"a key and a self-signed certificate for {me}"}
    if now["certificate"] is None or now["ca"] != now["wanted_ca"]:
        changes["trusted"] = {"old": __salt__[mod + "trusted"](now["ca"]) if now["ca"] else None,
                              "new": wanted_trust}
    if not now["secure_access"]:
        changes["secure-access"] = {"old": False, "new": True}
    if not changes:
        ret["comment"] = f"GlusterFS speaks TLS here and trusts {', '.join(wanted_trust)}"
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment="GlusterFS's TLS would be set up")
        return ret
    try:
        after = __salt__[mod + "set_up_tls"](peers)
    except (CommandExecutionError, OSError, ValueError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    if "certificate" in changes:
        changes["certificate"]["new"] = after["certificate"]
    ret.update(changes=changes, comment=f"GlusterFS speaks TLS here and trusts {', '.join(wanted_trust)}")
    return ret
