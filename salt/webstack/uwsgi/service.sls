{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/process.jinja" import manager_sls, program with context %}
{%- set app = webstack.app %}
include:
  - .config
  - {{ tplroot }}.app.release
{{- manager_sls(webstack) }}

{#- The master process; a change of uwsgi.ini reloads it gracefully (SIGHUP: it
    re-executes itself on the same socket, new connections wait in the backlog). #}
{{ program('webstack-uwsgi-service', webstack, {
    'name': app.programs.uwsgi,
    'command': [webstack.uwsgi_bin, '--ini', app.config_dir ~ '/uwsgi.ini'],
    'directory': app.base_dir,
    'user': app.user,
    'environment': webstack.app_environment,
    'stopsignal': 'INT',
    'stopwaitsecs': webstack.wsgi.stop_wait,
    'stdout_logfile': webstack.supervisor.log_dir ~ '/' ~ app.programs.uwsgi ~ '.log',
    'reload_signal': 'HUP',
  },
  require=[{'file': 'webstack-app-config-run-file-directory'},
           {'webstack_release': 'webstack-app-release-webstack_release-deployed'}],
  watch=[{'file': 'webstack-uwsgi-config-file-managed'}]) }}

{#- A new release: a chain reload, one worker at a time (lazy-apps: each new
    worker loads the app from `current`), waiting until all are replaced. #}
webstack-uwsgi-service-webstack_wsgi-reloaded:
  webstack_wsgi.reloaded:
    - name: {{ app.uwsgi_fifo }}
    - server: uwsgi
    - stats_socket: {{ app.uwsgi_stats }}
    - timeout: {{ webstack.wsgi.reload_timeout }}
    - require:
      - webstack_process: webstack-uwsgi-service-webstack_process-running
    - watch:
      - webstack_release: webstack-app-release-webstack_release-deployed
      - file: webstack-app-config-entry-file-managed
