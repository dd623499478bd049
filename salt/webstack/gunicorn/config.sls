{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set app = webstack.app %}
include:
  - {{ tplroot }}.app.config

{#- Gunicorn re-reads this file on SIGHUP: a change reloads it gracefully. #}
webstack-gunicorn-config-file-managed:
  file.managed:
    - name: {{ app.config_dir }}/gunicorn.conf.py
    - source: salt://{{ tpldir }}/files/gunicorn.conf.py.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: {{ app.user }}
    - mode: '0640'
    - check_cmd: {{ (webstack.pkgs.python[0] | quote ~ ' -I -m py_compile') | json }}
    - require:
      - file: webstack-app-config-dir-file-directory
