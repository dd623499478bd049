{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/boot.jinja" import boot_links with context %}
include:
  - .config
  - {{ tplroot }}.apache.clean

{#- Apache goes first (a switch from mod_wsgi): the same port. #}
webstack-nginx-service-running:
  service.running:
    - name: {{ webstack.services.nginx }}
{%- if webstack.systemd_booted %}
    - enable: True
{%- endif %}
    - reload: True
    - require:
      - service: webstack-apache-clean-service-dead
    - watch:
      - file: webstack-nginx-config-file-managed
{%- if webstack.tls.front %}
      - {{ webstack.tls.requisite | yaml(False) }}
{%- endif %}

{{ boot_links('webstack-nginx-service', webstack, webstack.services.nginx, True,
               {'service': 'webstack-nginx-service-running'}) }}
