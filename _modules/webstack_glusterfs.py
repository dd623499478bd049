"""
GlusterFS on the storage node: the volume of the shared uploads, read from
``gluster volume info --xml`` and made with ``gluster --mode=script`` (no prompt).

One brick on one storage node (a distributed volume of one brick); ``auth.allow``
lists the app and worker nodes' addresses, the only clients that may mount it.

Management and I/O over TLS: the storage node and each of its clients (the app and
worker nodes) has a key and a self-signed certificate of its own (its subject's CN is
its minion id), made here and published through the Salt mine
(:py:func:`certificate`). Each trusts the certificates of the nodes it talks to and
nothing else (``/etc/ssl/glusterfs.ca``: the storage node trusts its clients, a client
the storage node); ``/var/lib/glusterd/secure-access`` turns TLS on for glusterd's
management connections, ``client.ssl``/``server.ssl`` on the volume for its I/O, and
``auth.ssl-allow`` names the clients. A host without a trusted certificate can neither
join the pool (``gluster peer probe``) nor mount the volume, whatever the network.

CLI Example:

.. code-block:: bash

    salt storage1 webstack_glusterfs.volume uploads
"""

import datetime
import hashlib
import os
import time
import xml.etree.ElementTree as ET

from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_glusterfs"

# GlusterFS's own paths (its socket transport reads them; Debian builds it with these)
KEY = "/etc/ssl/glusterfs.key"
CERT = "/etc/ssl/glusterfs.pem"
CA = "/etc/ssl/glusterfs.ca"
SECURE_ACCESS = "/var/lib/glusterd/secure-access"
# a certificate is made again this long before it expires
RENEW_DAYS = 30
VALID_DAYS = 3650


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


def stop(name):
    """
    Stop the volume ``name`` (its clients lose it until it starts again).

    CLI Example:

    .. code-block:: bash

        salt storage1 webstack_glusterfs.stop uploads
    """
    _gluster(["volume", "stop", name])
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


# ---------------------------------------------------------------- TLS

def _takes_part():
    """Whether this minion serves or mounts the shared uploads: a node of a cluster that has a
    storage node, with a role that reaches it (its peers in roles.yaml: storage, app,
    worker), by the pillar (by minion id)."""
    webstack = __pillar__.get("webstack") if isinstance(__pillar__.get("webstack"), dict) else {}
    nodes = webstack.get("nodes") if isinstance(webstack.get("nodes"), dict) else {}
    roles = webstack.get("roles") if isinstance(webstack.get("roles"), list) else []
    if not any(isinstance(r, list) and "storage" in r for r in nodes.values()):
        return False
    registry = __salt__["webstack_config.parameters"]()["roles"]
    return any(role in registry and registry[role]["cluster"] and "storage" in registry[role]["peers"]
               for role in roles) and not any(registry.get(role, {}).get("cluster") is False for role in roles)


def _load_own():
    """(key, certificate) of this node as objects, or None when either is missing or unreadable,
    they do not match, the certificate is not this minion's, or it expires within RENEW_DAYS."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel
    try:
        with open(KEY, "rb") as fh:
            key = serialization.load_pem_private_key(fh.read(), password=None)
        with open(CERT, "rb") as fh:
            cert = x509.load_pem_x509_certificate(fh.read())
    except (OSError, ValueError, TypeError):
        return None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    left = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    if (key.public_key().public_bytes(serialization.Encoding.DER, spki)
            != cert.public_key().public_bytes(serialization.Encoding.DER, spki)
            or [n.value for n in names] != [__grains__["id"]] or left < datetime.timedelta(days=RENEW_DAYS)):
        return None
    return key, cert


def _make_own():
    """A new P-256 key (root's alone) and a self-signed certificate for this minion's id,
    each written beside its file and renamed over it."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, __grains__["id"])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write(KEY, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()), 0o600)
    _write(CERT, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _write(path, data, mode):
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    tmp = f"{path}.webstack-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def certificate(create=True):
    """
    This node's certificate for GlusterFS (PEM), its key and itself made first where
    they are missing, do not match, are not this minion's, or expire within 30 days
    (``create=False``: None then). What the Salt mine publishes
    (``pillar/webstack/cluster.sls``), so that the storage node and its clients trust
    each other before either is set up; None on a node that neither serves nor mounts
    the shared uploads.

    CLI Example:

    .. code-block:: bash

        salt app1 webstack_glusterfs.certificate
    """
    if not _takes_part():
        return None
    if _load_own() is None:
        if not create:
            return None
        _make_own()
    with open(CERT, encoding="ascii") as fh:
        return fh.read()


def ca_path():
    """
    Where GlusterFS reads the certificates it trusts.

    CLI Example:

    .. code-block:: bash

        salt storage1 webstack_glusterfs.ca_path
    """
    return CA


def _read(path):
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError):
        return None


def fingerprint(pem):
    """
    The SHA-256 fingerprint of a PEM certificate's DER form, as ``openssl x509
    -fingerprint -sha256`` prints it (without the colons).

    CLI Example:

    .. code-block:: bash

        salt app1 webstack_glusterfs.fingerprint "$(cat /etc/ssl/glusterfs.pem)"
    """
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel
    cert = x509.load_pem_x509_certificate(pem.encode())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()


def trusted(text):
    """
    The subjects' CNs of the PEM certificates in ``text`` (a CA file), in order; a block
    that does not load is ``?``.

    CLI Example:

    .. code-block:: bash

        salt storage1 webstack_glusterfs.trusted "$(cat /etc/ssl/glusterfs.ca)"
    """
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel
    found = []
    for block in __utils__["webstack_schema.pem_blocks"](text or "", "CERTIFICATE"):
        try:
            names = x509.load_pem_x509_certificate(block.encode()).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            found.append(names[0].value if names else "?")
        except ValueError:
            found.append("?")
    return found


def tls(peers):
    """
    This node's TLS for GlusterFS as it is, and the CA file it should have with ``peers``
    (minion id -> PEM certificate, checked by the caller): ``{"certificate": its
    fingerprint or None (none yet, or one to make again), "ca": the CA file's text,
    "wanted_ca": its text with this node's certificate then the peers' by id (None
    without a certificate), "secure_access": whether glusterd's management connections
    use TLS}``.

    CLI Example:

    .. code-block:: bash

        salt storage1 webstack_glusterfs.tls '{app1: "-----BEGIN CERTIFICATE-----..."}'
    """
    own = _read(CERT) if _load_own() else None
    wanted = None
    if own:
        wanted = own.strip() + "\n" + "".join(peers[node].strip() + "\n" for node in sorted(peers))
    return {"certificate": fingerprint(own) if own else None, "ca": _read(CA), "wanted_ca": wanted,
            "secure_access": os.path.isfile(SECURE_ACCESS)}


def set_up_tls(peers):
    """
    Make this node's key and certificate where needed (see :py:func:`certificate`), write
    the CA file of its certificate and ``peers``' (minion id -> PEM certificate), and
    turn on TLS for glusterd's management connections (``/var/lib/glusterd/secure-access``).
    Returns what :py:func:`tls` says afterwards.

    CLI Example:

    .. code-block:: bash

        salt storage1 webstack_glusterfs.set_up_tls '{app1: "-----BEGIN CERTIFICATE-----..."}'
    """
    if _load_own() is None:
        _make_own()
    now = tls(peers)
    if now["ca"] != now["wanted_ca"]:
        _write(CA, now["wanted_ca"].encode("ascii"), 0o644)
    if not now["secure_access"]:
        _write(SECURE_ACCESS, b"", 0o644)
    return tls(peers)
