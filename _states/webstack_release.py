"""
Application releases as a state.

.. code-block:: yaml

    webstack-app-release-webstack_release-deployed:
      webstack_release.deployed:
        - name: /srv/webapp
        - source: salt://example
        - settings_file: /etc/webstack/webapp/app.env
        - user: webapp
        - build_user: webapp-build
        - keep: 5

A new release is built and switched to only when the source (git commit or
content hash, requirements included), the settings file or the build changed;
otherwise the state reports no changes. Programs that serve the release watch
this state and reload gracefully when it switches (see ``webstack_supervisor``).
"""

__virtualname__ = "webstack_release"


def __virtual__():
    if "webstack_release.plan" not in __salt__:
        return (False, "the webstack_release execution module is not loaded")
    return __virtualname__


def _plan(name, source, args, release=None):
    """(planned, None) when something is to do, else (planned or None, the return to give)."""
    try:
        planned = __salt__["webstack_release.plan"](name, source, test=bool(__opts__["test"]),
                                                    release=release, **args)
    except Exception as exc:  # pylint: disable=broad-except
        what = f"release {release}" if release else f"source {source}"
        return None, {"name": name, "result": False, "changes": {}, "comment": f"Cannot resolve {what}: {exc}"}
    if not planned["changed"]:
        return planned, {"name": name, "result": True, "changes": {},
                         "comment": f"Release {planned['current']} is current and up to date"}
    return planned, None


def deployed(name, source, rev="main", settings_file=None, requirements="requirements.txt",
             python="python3", build_commands=None, migrate=True, migrate_commands=None,
             post_deploy_commands=None, env=None, user=None, keep=5, saltenv="base", release=None,
             build=True, links=None, build_user=None):
    """
    Make sure ``<name>/current`` is a release of this source and settings.

    name
        The application's base directory (``releases/`` and ``current`` live in it).
    source
        ``salt://dir``, ``salt://archive.tar.gz`` or a git URL.
    rev
        Branch, tag or commit, for git sources.
    settings_file
        The app's config file; its content is part of the release fingerprint.
    requirements
        Requirements file, relative to the source root ('' for none).
    python
        Interpreter for the virtualenv.
    build_commands
        Run in the new release before the switch, as ``build_user`` (e.g. collectstatic).
    build_user
        The user that creates the virtualenv, installs the requirements and runs the
        build commands (never root): it writes only the release being built, which
        is root's once built.
    migrate, migrate_commands
        Run in the new release before the switch, as ``user``, when ``migrate``.
    post_deploy_commands
        Run after the switch, as ``user``; if one fails, ``current`` is switched
        back and the state fails (the programs that watch it do not reload).
    env
        Environment of those commands, over the settings of ``settings_file``;
        ``{release}`` in a value is the release's directory.
    links
        ``{path: target}``: ``path`` of the source (``media``) becomes a symlink to
        ``target`` (``/srv/webapp/shared/media``) in each new release.
    keep
        How many finished releases to keep (the current one always stays).
    release
        Pin an existing release instead of the source's: a release id, or the
        8 hex digits of its fingerprint (``orch.rollback`` passes the previous
        one). Nothing is built and no migration runs.
    build
        ``False``: only switch to a release that is built already (``orch.deploy``'s
        rollout, after its build step); fail, switching nothing, when there is none.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    args = dict(rev=rev, settings_file=settings_file, python=python, build_commands=build_commands,
                saltenv=saltenv, requirements=requirements, links=links)
    planned, done = _plan(name, source, args, release=release)
    if done:
        return done
    how = f"switched to the finished release {planned['reuse']}" if planned["reuse"] else "a new release built"
    if not planned["reuse"] and not build and __opts__["test"]:
        how = "switched to the release that the build step makes"
    if __opts__["test"]:
        ret["result"] = None
        ret["changes"] = {"release": {"old": planned["current"], "new": planned["reuse"] or "(new release)"}}
        ret["comment"] = f"{name}: would have {how}"
        return ret
    try:
        res = __salt__["webstack_release.deploy"](
            name, source, migrate=migrate, migrate_commands=migrate_commands,
            post_deploy_commands=post_deploy_commands, env=env, user=user, keep=keep, planned=planned,
            release=release, build_missing=build, build_user=build_user, **args)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = f"Deploy failed, current release {planned['current'] or '(none)'} left in place: {exc}"
        return ret
    now = __salt__["webstack_release.current"](name)
    ret["changes"] = {"release": {"old": res["old"], "new": res["new"]}}
    if res["pruned"]:
        ret["changes"]["pruned"] = {"old": res["pruned"], "new": []}
    if now != res["new"]:
        ret["result"] = False
        ret["comment"] = f"current points to {now}, expected {res['new']}"
    else:
        ret["comment"] = f"{name}: {how}, current is {now}"
    if res.get("prune_failed"):
        ret["comment"] += "; old releases that could not be removed: " + "; ".join(
            f"{release_id} ({why})" for release_id, why in sorted(res["prune_failed"].items()))
    return ret


def built(name, source, rev="main", settings_file=None, requirements="requirements.txt",
          python="python3", build_commands=None, env=None, saltenv="base", release=None, links=None,
          build_user=None, **_):
    """
    Make sure a finished release of this source and settings exists, without
    switching ``current`` to it: ``orch.deploy`` builds on every node first,
    then switches them one at a time. Arguments as for ``deployed`` (the
    others are accepted and ignored, so both states can share one list).
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    args = dict(rev=rev, settings_file=settings_file, python=python, build_commands=build_commands,
                saltenv=saltenv, requirements=requirements, links=links)
    planned, done = _plan(name, source, args, release=release)
    if done:
        return done
    if planned["reuse"]:
        ret["comment"] = f"Release {planned['reuse']} is built, ready for the switch"
        return ret
    if __opts__["test"]:
        ret["result"] = None
        ret["changes"] = {"built": {"old": None, "new": "(new release)"}}
        ret["comment"] = f"{name}: would have built a new release"
        return ret
    try:
        new = __salt__["webstack_release.build"](name, source, env=env, planned=planned, build_user=build_user,
                                                 **args)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = f"Build failed, current release {planned['current'] or '(none)'} left in place: {exc}"
        return ret
    ret["changes"] = {"built": {"old": None, "new": new}}
    ret["comment"] = f"{name}: built release {new}, ready for the switch"
    return ret


def migrated(name, source, rev="main", settings_file=None, requirements="requirements.txt",
             python="python3", build_commands=None, migrate_commands=None, env=None, user=None,
             saltenv="base", release=None, links=None, **_):
    """
    Run the migrations of the wanted release (built by ``built``, or current)
    once, before any node switches to it. Nothing to do for a pinned release
    (a rollback never migrates) or one whose migrations already ran.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if release:
        ret["comment"] = f"Release {release} is pinned: no migration runs"
        return ret
    args = dict(rev=rev, settings_file=settings_file, python=python, build_commands=build_commands,
                saltenv=saltenv, requirements=requirements, links=links)
    planned, done = _plan(name, source, args)
    if planned is None:
        return done
    target = planned["reuse"] if planned["changed"] else planned["current"]
    if not target:
        ret["result"] = None if __opts__["test"] else False
        ret["comment"] = f"{name}: no built release of this source yet (the build step runs first)"
        return ret
    if __salt__["webstack_release.migrated"](name, target):
        ret["comment"] = f"The migrations of release {target} have run"
        return ret
    if __opts__["test"]:
        ret["result"] = None
        ret["changes"] = {"migrated": {"old": None, "new": target}}
        ret["comment"] = f"{name}: would run the migrations of release {target}"
        return ret
    try:
        __salt__["webstack_release.run_migrations"](name, target, migrate_commands, settings_file=settings_file,
                                                    env=env, user=user)
    except Exception as exc:  # pylint: disable=broad-except
        ret["result"] = False
        ret["comment"] = f"Migrations of release {target} failed: {exc}"
        return ret
    ret["changes"] = {"migrated": {"old": None, "new": target}}
    ret["comment"] = f"{name}: ran the migrations of release {target}"
    return ret


def mod_watch(name, sfun=None, **kwargs):
    """
    A watched change (the settings file, say) re-runs ``deployed``: the settings
    are part of the fingerprint, so a changed file yields a new release and the
    programs watching this state reload gracefully.
    """
    if sfun == "deployed":
        return deployed(name, **{k: v for k, v in kwargs.items() if not k.startswith("__")})
    return {"name": name, "result": True, "changes": {}, "comment": f"Nothing to do on a watch for {sfun}"}
