{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set app = webstack.app %}
{%- set celery = webstack.celery %}
include:
  - {{ tplroot }}.app.release
  - {{ tplroot }}.supervisor

{%- if celery.enabled and app.celery_app %}
{#- A new release restarts the worker with SIGTERM: a warm shutdown that finishes
    the tasks in progress (acks_late: an unfinished one is delivered again). #}
webstack-celery-service-webstack_supervisor-running:
  webstack_supervisor.running:
    - name: {{ app.name }}-celery
    - command:
      - {{ app.current_dir }}/venv/bin/python
      - -m
      - celery
      - --app
      - {{ app.celery_app }}
      - worker
      - --loglevel
      - {{ celery.loglevel }}
      - --concurrency
      - '{{ celery.concurrency }}'
      - --hostname
      - {{ app.name }}@%h
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
    - stopwaitsecs: {{ celery.stop_wait_secs }}
    - stopasgroup: True
    - stdout_logfile: {{ webstack.supervisor.log_dir }}/{{ app.name }}-celery.log
    - conf_dir: {{ webstack.supervisor.conf_dir }}
    - require:
      - service: webstack-supervisor-service-running
    - watch:
      - webstack_release: webstack-app-release-webstack_release-deployed
{%- else %}
webstack-celery-service-webstack_supervisor-absent:
  webstack_supervisor.absent:
    - name: {{ app.name }}-celery
    - conf_dir: {{ webstack.supervisor.conf_dir }}
    - require:
      - service: webstack-supervisor-service-running
{%- endif %}
