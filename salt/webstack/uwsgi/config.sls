{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set app = webstack.app %}
include:
  - .package
  - {{ tplroot }}.app.config

{#- Read by the master at its start and on a graceful reload (SIGHUP); a change
    reloads it. No secret in it: the app reads them from its config file. #}
webstack-uwsgi-config-file-managed:
  file.managed:
    - name: {{ app.config_dir }}/uwsgi.ini
    - source: salt://{{ tpldir }}/files/uwsgi.ini.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: {{ app.user }}
    - mode: '0640'
    - require:
      - file: webstack-app-config-dir-file-directory
      - pkg: webstack-uwsgi-package-pkg-installed
