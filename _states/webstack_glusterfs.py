"""
The GlusterFS volume of the shared uploads (the ``webstack_glusterfs`` execution
module): made of one brick, started, and mountable only by the given clients.

.. code-block:: yaml

    The uploads volume is started:
      webstack_glusterfs.volume_present:
        - name: uploads
        - brick: 10.0.0.5:/srv/glusterfs/uploads
        - allow: [10.0.0.7, 10.0.0.8]
"""

__virtualname__ = "webstack_glusterfs"


def __virtual__():
    if "webstack_glusterfs.volume" not in __salt__:
        return (False, "the webstack_glusterfs execution module is not loaded")
    return __virtualname__


def volume_present(name, brick, allow, force=False):
    """
    Make sure the volume ``name`` exists with the one brick ``brick``, is started,
    and lets only the addresses ``allow`` mount it (``auth.allow``). A volume with
    another brick is reported, not changed: moving a brick is the operator's call.

    name
        The volume.
    brick
        ``host:/path`` on this node.
    allow
        The clients' addresses (the app and worker nodes); none: 127.0.0.1 only.
    force
        Create the brick even on the root filesystem.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    mod = "webstack_glusterfs."
    wanted_allow = ",".join(allow) if allow else "127.0.0.1"
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
    old_allow = (info["options"].get("auth.allow") if info else None) or "*"
    changes = {}
    if old_status != "Started":
        changes["status"] = {"old": old_status, "new": "Started"}
    if old_allow != wanted_allow:
        changes["auth.allow"] = {"old": old_allow, "new": wanted_allow}
    if not changes:
        ret["comment"] = f"Volume {name} is started, mountable by {wanted_allow}"
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"Volume {name} would be set up")
        return ret
    try:
        if info is None:
            __salt__[mod + "create"](name, brick, force=force)
        if "auth.allow" in changes:
            __salt__[mod + "set_option"](name, "auth.allow", wanted_allow)
        if old_status != "Started":
            __salt__[mod + "start"](name)
    except Exception as exc:  # pylint: disable=broad-except
        ret.update(result=False, changes={}, comment=str(exc))
        return ret
    ret.update(changes=changes, comment=f"Volume {name} is started, mountable by {wanted_allow}")
    return ret
