"""
The app's backups (the ``webstack_backup`` execution module): pgBackRest's stanza for
the database, the uploads' restic repository, a first full backup and snapshot, so that
a restore works from the first run on, and a first restore drill.

.. code-block:: yaml

    The database's backups have their stanza:
      webstack_backup.stanza_present:
        - name: webapp

    The uploads' repository exists:
      webstack_backup.files_repository_present:
        - name: /var/backups/webstack/files

    The repository holds a full backup:
      webstack_backup.backup_present:
        - name: webapp

    A restore drill is on record:
      webstack_backup.drill_present:
        - name: webapp
"""

from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_backup"


def __virtual__():
    if "webstack_backup.stanza_present" not in __salt__:
        return (False, "the webstack_backup execution module is not loaded")
    return __virtualname__


def _apply(name, function, what):
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    test = bool(__opts__["test"])
    try:
        done = __salt__[f"webstack_backup.{function}"](test=test)
    except CommandExecutionError as exc:
        if test:  # PostgreSQL or pgBackRest not set up yet (a first run): it would be made
            ret.update(result=None, changes={what: {"old": None, "new": name}},
                       comment=f"{what} of {name} would be made (pgBackRest does not answer now: {exc})")
            return ret
        ret.update(result=False, comment=str(exc))
        return ret
    ret["comment"] = done["comment"]
    if done["changed"]:
        ret["changes"] = {what: {"old": None, "new": name}}
        ret["result"] = None if test else True
    return ret


def stanza_present(name):
    """
    Make sure pgBackRest's stanza ``name`` (the app's name: the formula's configuration
    names it) exists in the repository. PostgreSQL must run and archive to it.

    name
        The stanza.
    """
    return _apply(name, "stanza_present", "stanza")


def backup_present(name):
    """
    Make sure the repository holds at least one backup of stanza ``name``: a first full
    backup is taken where it holds none.

    name
        The stanza.
    """
    return _apply(name, "backup_present", "backup")


def files_repository_present(name):
    """
    Make sure the uploads' restic repository ``name`` exists (made, encrypted with the
    backups' passphrase, where it does not).

    name
        The repository's directory.
    """
    return _apply(name, "files_repository_present", "repository")


def drill_present(name):
    """
    Make sure a restore drill is on record: a first one runs where none is (a failed one
    fails the state, with what failed).

    name
        The stanza.
    """
    return _apply(name, "drill_present", "drill")
