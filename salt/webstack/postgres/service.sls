{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .config

{#- listen_addresses needs a restart; pg_hba and the rest a reload. #}
webstack-postgres-service-running:
  service.running:
    - name: {{ webstack.services.postgres }}
    - enable: True
    - reload: True
    - watch:
      - file: webstack-postgres-config-conf-file-managed
      - file: webstack-postgres-config-hba-file-managed
