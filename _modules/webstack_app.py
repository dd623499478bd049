"""
One-off commands in the app's environment, the way operators use ``kamal app
exec`` or ``heroku run``: a management command, a shell, a data fix, on one node,
from the master.

The command runs as the app's user in ``<base_dir>/current/src``, with the
current release's virtualenv and the environment that the app's processes have
(the settings of the config file, the settings module). It runs without a
shell: one line that splits into words.
"""

from salt.exceptions import CommandExecutionError

__virtualname__ = "webstack_app"

APP_ROLES = ("single", "app", "worker")


def __virtual__():
    for needed in ("webstack_config.get", "webstack_release.execute"):
        if needed not in __salt__:
            return (False, f"{needed} is not loaded (saltutil.sync_all)")
    return __virtualname__


def run(command, env=None, timeout=3600):
    """
    Run ``command`` in the current release as the app's user, with the app's
    environment, plus ``env`` (a mapping; a secret belongs in the pillar's
    ``app:secrets``, not here: arguments reach the master's job cache). Returns
    ``{"release", "retcode", "stdout", "stderr"}``, whatever the exit status.

    CLI Example:

    .. code-block:: bash

        salt app1 webstack_app.run 'python manage.py shell -c "print(1)"'
        salt app1 webstack_app.run 'python manage.py createsuperuser --noinput --username admin --email a@example.org' env='{DJANGO_SUPERUSER_PASSWORD: ...}'
    """  # noqa: E501 (a CLI example is one line)
    config = __salt__["webstack_config.get"]()
    roles = config["roles"] or ["single"]
    if not any(role in APP_ROLES for role in roles):
        raise CommandExecutionError(f"this minion has roles {', '.join(roles)}: the app runs on role single, "
                                    "app or worker")
    if env is not None and (not isinstance(env, dict) or not all(
            __utils__["webstack_schema.valid"]("env_name", key) for key in env)):
        raise CommandExecutionError("env: expected a mapping of " + __utils__["webstack_schema.form"]("env_name")
                                    + " to values")
    app = config["app"]
    environment = dict(config["app_environment"])
    environment.update({str(k): str(v) for k, v in (env or {}).items()})
    return __salt__["webstack_release.execute"](app["base_dir"], command, settings_file=app["config_file"],
                                                env=environment, runas=app["user"], timeout=timeout)
