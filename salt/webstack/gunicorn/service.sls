{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set app = webstack.app %}
include:
  - .config
  - {{ tplroot }}.app.release
  - {{ tplroot }}.supervisor

{#- Started through the `current` symlink: a new release takes over on a graceful
    reload (SIGHUP), with no dropped request. #}
webstack-gunicorn-service-webstack_supervisor-running:
  webstack_supervisor.running:
    - name: {{ app.name }}-gunicorn
    - command:
      - {{ app.current_dir }}/venv/bin/python
      - -m
      - gunicorn
      - --config
      - {{ app.config_dir }}/gunicorn.conf.py
      - {{ app.wsgi_app }}
    - directory: {{ app.current_dir }}/src
    - user: {{ app.user }}
    - environment:
        HOME: {{ app.base_dir }}
        USER: {{ app.user }}
        WEBSTACK_CONFIG: {{ app.config_file }}
        PYTHONUNBUFFERED: '1'
{%- if app.django_settings_module %}
        DJANGO_SETTINGS_MODULE: {{ app.django_settings_module }}
{%- endif %}
    - stopsignal: TERM
    - stopwaitsecs: {{ (webstack.wsgi.graceful_timeout | int(30)) + 5 }}
    - stdout_logfile: {{ webstack.supervisor.log_dir }}/{{ app.name }}-gunicorn.log
    - conf_dir: {{ webstack.supervisor.conf_dir }}
    - reload_signal: HUP
    - require:
      - service: webstack-supervisor-service-running
      - file: webstack-app-config-run-file-directory
    - watch:
      - webstack_release: webstack-app-release-webstack_release-deployed
      - file: webstack-gunicorn-config-file-managed
