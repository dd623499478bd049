"""
GlusterFS on the storage node: the volume of the shared uploads, read from
``gluster volume info --xml`` and made with ``gluster --mode=script`` (no prompt).

One brick on one storage node (a distributed volume of one brick); ``auth.allow``
lists the app and worker nodes' addresses, the only clients that may mount it.

CLI Example:

.. code-block:: bash

    salt storage1 webstack_glusterfs.volume uploads
"""

import time
import xml.etree.ElementTree as ET

from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_glusterfs"


def __virtual__():
    return __virtualname__


def _gluster(args, check=True):
    res = __salt__["cmd.run_all"](["gluster", "--mode=script", *args], python_shell=False,
                                  ignore_retcode=True)
    if check and res["retcode"] != 0:
        raise CommandExecutionError(f"gluster {' '.join(args[:2])} failed: "
                                    f"{(res['stderr'] or res['stdout']).strip()[:500]}")
    return res


def wait_ready(timeout=30, interval=0.5):
    """
    Wait, up to ``timeout`` seconds, until glusterd answers (after a start).
    Returns the seconds waited.

    CLI Example:

    .. code-block:: bash

        salt storage1 webstack_glusterfs.wait_ready
    """
    start = time.monotonic()
    while True:
        res = _gluster(["pool", "list"], check=False)
        if res["retcode"] == 0:
            return round(time.monotonic() - start, 3)
        if time.monotonic() - start >= timeout:
            raise CommandExecutionError(f"glusterd does not answer after {timeout} s: "
                                        f"{(res['stderr'] or res['stdout']).strip()[:300]}")
        time.sleep(interval)


def parse_info(text):
    """The volume of ``gluster volume info NAME --xml``: ``{name, status, bricks, options}``,
    or None when there is no such volume."""
    root = ET.fromstring(text)
    if root.findtext("opRet") not in (None, "0"):
        err = root.findtext("opErrstr") or ""
        if "does not exist" in err:
            return None
        raise CommandExecutionError(f"gluster volume info failed: {err[:300]}")
    vol = root.find("volInfo/volumes/volume")
    if vol is None:
        return None
    return {
        "name": vol.findtext("name"),
        "status": vol.findtext("statusStr"),
        "bricks": [b.findtext("name") or (b.text or "").strip() for b in vol.findall("bricks/brick")],
        "options": {o.findtext("name"): o.findtext("value") for o in vol.findall("options/option")},
    }


def volume(name):
    """
    The volume ``name``: its status (Created, Started, Stopped), its bricks
    (``host:/path``) and the options set on it; None if there is none.

    CLI Example:

    .. code-block:: bash

        salt storage1 webstack_glusterfs.volume uploads
    """
    res = _gluster(["volume", "info", name, "--xml"], check=False)
    if not res["stdout"].strip().startswith("<"):
        if "does not exist" in res["stderr"] + res["stdout"]:
            return None
        raise CommandExecutionError(f"gluster volume info failed: {(res['stderr'] or res['stdout']).strip()[:300]}")
    return parse_info(res["stdout"])


def create(name, brick, force=False):
    """
    Create the volume ``name`` of the one brick ``host:/path`` (the directory is
    made); ``force`` allows a brick on the root filesystem.

    CLI Example:

    .. code-block:: bash

        salt storage1 webstack_glusterfs.create uploads 10.0.0.5:/srv/glusterfs/uploads
    """
    _gluster(["volume", "create", name, brick] + (["force"] if force else []))
    return True


def start(name):
    """
    Start the volume ``name``.

    CLI Example:

    .. code-block:: bash

        salt storage1 webstack_glusterfs.start uploads
    """
    _gluster(["volume", "start", name])
    return True


def set_option(name, option, value):
    """
    Set ``option`` of the volume ``name`` (e.g. ``auth.allow``).

    CLI Example:

    .. code-block:: bash

        salt storage1 webstack_glusterfs.set_option uploads auth.allow 10.0.0.7,10.0.0.8
    """
    _gluster(["volume", "set", name, option, value])
    return True
