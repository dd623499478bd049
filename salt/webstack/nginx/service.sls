{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/boot.jinja" import boot_links with context %}
include:
  - .config

webstack-nginx-service-running:
  service.running:
    - name: {{ webstack.services.nginx }}
{%- if webstack.systemd_booted %}
    - enable: True
{%- endif %}
    - reload: True
    - watch:
      - file: webstack-nginx-config-file-managed

{{ boot_links('webstack-nginx-service', webstack, webstack.services.nginx, True,
               {'service': 'webstack-nginx-service-running'}) }}
