{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/process.jinja" import manager_sls, program, program_absent with context %}
{%- set app = webstack.app %}
{%- set celery = webstack.celery %}
{#- Through the app's entry, which puts the settings into the environment and
    executes the rest of the command. #}
{%- set celery_cmd = [app.current_dir ~ '/venv/bin/python', app.entry,
                      app.current_dir ~ '/venv/bin/python', '-m', 'celery', '--app', app.celery_app] %}
{%- set watch = [{'webstack_release': 'webstack-app-release-webstack_release-deployed'},
                 {'file': 'webstack-app-config-entry-file-managed'}] %}
include:
  - {{ tplroot }}.app.release
{{- manager_sls(webstack) }}

{%- if celery.runs %}
{#- A new release restarts the worker with SIGTERM: a warm shutdown that finishes
    the tasks in progress (acks_late: an unfinished one is delivered again). #}
{{ program('webstack-celery-service', webstack, {
    'name': app.programs.celery,
    'command': celery_cmd + ['worker', '--loglevel', celery.loglevel, '--concurrency', celery.concurrency | string,
                             '--hostname', app.name ~ '@%h'],
    'directory': app.current_dir ~ '/src',
    'user': app.user,
    'environment': webstack.app_environment,
    'stopsignal': 'TERM',
    'stopwaitsecs': celery.stop_wait_secs,
    'stopasgroup': True,
    'stdout_logfile': webstack.supervisor.log_dir ~ '/' ~ app.programs.celery ~ '.log',
  },
  require=[{'file': 'webstack-app-config-entry-file-managed'}],
  watch=watch) }}

{#- Started or restarted: the deploy is done when the worker answers a ping under
    its node name; a crash loop fails here, with the last lines of its log. #}
webstack-celery-service-webstack_celery-ready:
  webstack_celery.ready:
    - name: {{ app.programs.celery }}
    - base_dir: {{ app.base_dir }}
    - celery_app: {{ app.celery_app }}
    - manager: {{ webstack.process_manager }}
    - settings_file: {{ app.config_file }}
    - env: {{ webstack.app_environment | json }}
    - runas: {{ app.user }}
    - log_file: {{ webstack.supervisor.log_dir ~ '/' ~ app.programs.celery ~ '.log' }}
    - timeout: {{ celery.start_timeout }}
    - onchanges:
      - webstack_process: webstack-celery-service-webstack_process-running
{%- else %}
{{ program_absent('webstack-celery-service', webstack, app.programs.celery) }}
{%- endif %}

{%- if celery.beat_here %}
{#- Beat, on this host only: a new release stops it, then starts it again (never two
    at once). Its schedule file and pid file are in the run directory. #}
{{ program('webstack-celery-beat-service', webstack, {
    'name': app.programs.celerybeat,
    'command': celery_cmd + ['beat', '--loglevel', celery.loglevel,
                             '--pidfile', app.run_dir ~ '/celerybeat.pid',
                             '--schedule', app.run_dir ~ '/celerybeat-schedule']
               + (['--scheduler', celery.beat_scheduler] if celery.beat_scheduler else []),
    'directory': app.current_dir ~ '/src',
    'user': app.user,
    'environment': webstack.app_environment,
    'stopsignal': 'TERM',
    'stopwaitsecs': 60,
    'stopasgroup': True,
    'stdout_logfile': webstack.supervisor.log_dir ~ '/' ~ app.programs.celerybeat ~ '.log',
  },
  require=[{'file': 'webstack-app-config-entry-file-managed'},
           {'file': 'webstack-app-config-run-file-directory'}],
  watch=watch) }}
{%- else %}
{{ program_absent('webstack-celery-beat-service', webstack, app.programs.celerybeat) }}
{%- endif %}
