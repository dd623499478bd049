{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/process.jinja" import manager_sls, program with context %}
{%- set app = webstack.app %}
include:
  - .config
  - {{ tplroot }}.app.release
{{- manager_sls(webstack) }}

{#- Started through the `current` symlink: a new release takes over on a graceful
    reload (SIGHUP: new workers, then the old ones finish), with no dropped request.
    PWD names the symlink: Gunicorn takes its default `chdir` from it (else from the
    resolved release it started in) and checks that it exists on every reload, so
    without it the master exits once that release is pruned. #}
{{ program('webstack-gunicorn-service', webstack, {
    'name': app.programs.gunicorn,
    'command': [app.current_dir ~ '/venv/bin/python', '-m', 'gunicorn',
                '--config', app.config_dir ~ '/gunicorn.conf.py', app.entry_module ~ ':application'],
    'directory': app.current_dir ~ '/src',
    'user': app.user,
    'environment': dict(webstack.app_environment, PWD=app.current_dir ~ '/src'),
    'stopsignal': 'TERM',
    'stopwaitsecs': webstack.wsgi.stop_wait,
    'stdout_logfile': webstack.supervisor.log_dir ~ '/' ~ app.programs.gunicorn ~ '.log',
    'reload_signal': 'HUP',
  },
  require=[{'file': 'webstack-app-config-run-file-directory'}],
  watch=[{'webstack_release': 'webstack-app-release-webstack_release-deployed'},
         {'file': 'webstack-gunicorn-config-file-managed'},
         {'file': 'webstack-app-config-entry-file-managed'}]) }}
