"""
Varnish on the lb node, through its management port (``varnishadm`` with the
secret file): the VCL in use, a new one loaded without a restart (the cache is
kept), a ban of every cached page (after a deploy), and the hit and miss
counters.

A VCL is loaded under a name made from its content (``webstack_<12 hex>``), so
the name in use says which text is live: a state compares names, not files.

CLI Example:

.. code-block:: bash

    salt lb1 webstack_varnish.vcls
"""

import hashlib
import json
import re
import time

from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_varnish"

_VCL_NAME_RE = re.compile(r"webstack_[0-9a-f]{12}")


def __virtual__():
    return __virtualname__


def _adm(args, admin_port, secret):
    if isinstance(admin_port, bool) or not isinstance(admin_port, int) or not 1 <= admin_port <= 65535:
        raise CommandExecutionError(f"admin_port must be a port number, got {admin_port!r}")
    res = __salt__["cmd.run_all"](["varnishadm", "-T", f"127.0.0.1:{admin_port}", "-S", secret, *args],
                                  python_shell=False, ignore_retcode=True, output_loglevel="quiet")
    if res["retcode"] != 0:
        raise CommandExecutionError(f"varnishadm {args[0]} failed (is Varnish running?): "
                                    f"{(res['stdout'] or res['stderr']).strip()[:500]}")
    return res["stdout"]


def wait_ready(admin_port=6083, secret="/etc/varnish/secret", timeout=30, interval=0.5):
    """
    Wait, up to ``timeout`` seconds, until Varnish's management port answers
    (after a start). Returns the seconds waited.

    CLI Example:

    .. code-block:: bash

        salt lb1 webstack_varnish.wait_ready
    """
    start = time.monotonic()
    while True:
        try:
            _adm(["ping"], admin_port, secret)
            return round(time.monotonic() - start, 3)
        except CommandExecutionError as exc:
            if time.monotonic() - start >= timeout:
                raise CommandExecutionError(f"Varnish does not answer on 127.0.0.1:{admin_port} within "
                                            f"{timeout} s: {exc}") from exc
            time.sleep(interval)


def vcl_name(path):
    """
    The name a VCL file is loaded under: ``webstack_`` and the first 12 hex digits
    of its SHA-256.

    CLI Example:

    .. code-block:: bash

        salt lb1 webstack_varnish.vcl_name /etc/varnish/webstack.vcl
    """
    with open(path, "rb") as handle:
        return "webstack_" + hashlib.sha256(handle.read()).hexdigest()[:12]


def vcls(admin_port=6083, secret="/etc/varnish/secret"):
    """
    The VCLs Varnish holds: ``{"active": name, "available": [names]}``.

    CLI Example:

    .. code-block:: bash

        salt lb1 webstack_varnish.vcls
    """
    active, available = None, []
    for line in _adm(["vcl.list"], admin_port, secret).splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        if fields[0] == "active":
            active = fields[-1]
        elif fields[0] == "available":
            available.append(fields[-1])
    return {"active": active, "available": available}


def load_vcl(path, admin_port=6083, secret="/etc/varnish/secret"):
    """
    Make the VCL at ``path`` the one in use, without a restart: loaded (Varnish
    compiles it; a VCL that does not compile changes nothing and raises), used,
    and the webstack VCLs that are no longer in use discarded. Returns the old
    and the new name, or None when it is in use already.

    CLI Example:

    .. code-block:: bash

        salt lb1 webstack_varnish.load_vcl /etc/varnish/webstack.vcl
    """
    name = vcl_name(path)
    held = vcls(admin_port, secret)
    if held["active"] == name:
        return None
    if name not in held["available"]:
        _adm(["vcl.load", name, path], admin_port, secret)
    _adm(["vcl.use", name], admin_port, secret)
    for old in held["available"] + [held["active"]]:
        if old and old != name and (_VCL_NAME_RE.fullmatch(old) or old == "boot"):
            # a VCL still busy with requests stays until the next load
            __salt__["cmd.run_all"](["varnishadm", "-T", f"127.0.0.1:{admin_port}", "-S", secret, "vcl.discard", old],
                                    python_shell=False, ignore_retcode=True, output_loglevel="quiet")
    return {"old": held["active"], "new": name}


def ban(admin_port=6083, secret="/etc/varnish/secret"):
    """
    Ban every page in Varnish's cache: the next request for each goes to the app
    nodes (after a deploy, so that no page of the old release is served).

    CLI Example:

    .. code-block:: bash

        salt lb1 webstack_varnish.ban
    """
    _adm(["ban", "obj.status", "!=", "0"], admin_port, secret)
    return True


def stats(workdir=None):
    """
    Varnish's cache counters: ``{"hit", "miss", "pass"}``, since it started.
    ``workdir``: the instance's ``-n`` (default: Varnish's own).

    CLI Example:

    .. code-block:: bash

        salt lb1 webstack_varnish.stats
    """
    res = __salt__["cmd.run_all"](["varnishstat", *(["-n", workdir] if workdir else []), "-1", "-j",
                                   "-f", "MAIN.cache_hit", "-f", "MAIN.cache_miss", "-f", "MAIN.s_pass"],
                                  python_shell=False, ignore_retcode=True)
    if res["retcode"] != 0:
        raise CommandExecutionError(f"varnishstat failed (is Varnish running?): {res['stderr'].strip()[:500]}")
    data = json.loads(res["stdout"])
    counters = data.get("counters", data)  # Varnish 6.5 and later nest them
    return {key: int(counters[field]["value"]) for key, field in
            (("hit", "MAIN.cache_hit"), ("miss", "MAIN.cache_miss"), ("pass", "MAIN.s_pass"))}
