{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/boot.jinja" import boot_links with context %}
include:
  - .config
  - {{ tplroot }}.apache.clean
{%- if webstack.nginx_lb %}
  - {{ tplroot }}.haproxy.clean
{%- endif %}

{#- Apache goes first (a switch from mod_wsgi), or HAProxy (a switch of the load
    balancer): the same port. #}
webstack-nginx-service-running:
  service.running:
    - name: {{ webstack.services.nginx }}
{%- if webstack.systemd_booted %}
    - enable: True
{%- endif %}
    - reload: True
    - require:
      - service: webstack-apache-clean-service-dead
{%- if webstack.nginx_lb %}
      - webstack_process: webstack-haproxy-clean-webstack_process-absent
{%- endif %}
    - watch:
      - file: webstack-nginx-config-file-managed
{%- if webstack.tls.front or (webstack.nginx_lb and webstack.tls.lb) %}
      - {{ webstack.tls.requisite | yaml(False) }}
{%- endif %}

{{ boot_links('webstack-nginx-service', webstack, webstack.services.nginx, True,
               {'service': 'webstack-nginx-service-running'}) }}
