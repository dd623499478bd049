{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/process.jinja" import manager_sls, program, program_absent with context %}
{%- set app = webstack.app %}
{%- set rq = webstack.rq %}
include:
  - {{ tplroot }}.app.release
{{- manager_sls(webstack) }}

{%- if rq.runs %}
{#- An RQ worker (app:queue rq), through the app's entry, which puts the settings
    (RQ_REDIS_URL among them) into the environment and executes the rest of the
    command. A new release stops it warm (SIGTERM: the job in progress finishes,
    up to rq:stop_wait_secs) and starts it in the new one. The signal goes to the
    worker only: its work horse, in a process group of its own, would die of SIGTERM
    with the job (systemd: KillMode=mixed); after stopwaitsecs both are killed. A job
    that fails stays in RQ's failed job registry. #}
{{ program('webstack-rq-service', webstack, {
    'name': app.programs.rq,
    'command': [app.current_dir ~ '/venv/bin/python', app.entry] + rq.argv,
    'directory': app.current_dir ~ '/src',
    'user': app.user,
    'environment': webstack.app_environment,
    'startsecs': 5,
    'stopsignal': 'TERM',
    'stopwaitsecs': rq.stop_wait_secs,
    'stopasgroup': False,
    'killasgroup': True,
    'stdout_logfile': webstack.supervisor.log_dir ~ '/' ~ app.programs.rq ~ '.log',
  },
  require=[{'file': 'webstack-app-config-entry-file-managed'}],
  watch=[{'webstack_release': 'webstack-app-release-webstack_release-deployed'},
         {'file': 'webstack-app-config-entry-file-managed'}]) }}
{%- else %}
{{ program_absent('webstack-rq-service', webstack, app.programs.rq) }}
{%- endif %}
