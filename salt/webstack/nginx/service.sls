{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .config

webstack-nginx-service-running:
  service.running:
    - name: {{ webstack.services.nginx }}
    - enable: True
    - reload: True
    - watch:
      - file: webstack-nginx-config-file-managed
