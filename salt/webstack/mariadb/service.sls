{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .config

{#- MariaDB reads its config only when it starts: a change restarts it. #}
webstack-mariadb-service-running:
  service.running:
    - name: {{ webstack.services.mariadb }}
    - enable: True
    - watch:
      - file: webstack-mariadb-config-file-managed
{%- if webstack.mariadb.tls %}
      - cmd: webstack-mariadb-config-certificate-cmd-run
{%- endif %}
