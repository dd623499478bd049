{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .config

{#- Redis re-reads its config only on a restart. #}
webstack-redis-service-running:
  service.running:
    - name: {{ webstack.services.redis }}
    - enable: True
    - watch:
      - file: webstack-redis-config-file-managed
