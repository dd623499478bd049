{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/process.jinja" import manager_sls, program, program_absent with context %}
{%- set app = webstack.app %}
{%- set celery = webstack.celery %}
include:
  - {{ tplroot }}.app.release
{{- manager_sls(webstack) }}

{%- if celery.enabled and app.celery_app %}
{#- A new release restarts the worker with SIGTERM: a warm shutdown that finishes
    the tasks in progress (acks_late: an unfinished one is delivered again). #}
{{ program('webstack-celery-service', webstack, {
    'name': app.name ~ '-celery',
    'command': [app.current_dir ~ '/venv/bin/python', '-m', 'celery', '--app', app.celery_app, 'worker',
                '--loglevel', celery.loglevel, '--concurrency', celery.concurrency | string,
                '--hostname', app.name ~ '@%h'],
    'directory': app.current_dir ~ '/src',
    'user': app.user,
    'environment': webstack.app_environment,
    'stopsignal': 'TERM',
    'stopwaitsecs': celery.stop_wait_secs,
    'stopasgroup': True,
    'stdout_logfile': webstack.supervisor.log_dir ~ '/' ~ app.name ~ '-celery.log',
  },
  watch=[{'webstack_release': 'webstack-app-release-webstack_release-deployed'}]) }}
{%- else %}
{{ program_absent('webstack-celery-service', webstack, app.name ~ '-celery') }}
{%- endif %}
