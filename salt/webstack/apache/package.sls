{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - {{ tplroot }}.validate
  - {{ tplroot }}.nginx.clean

{#- Nginx goes first: the package starts Apache where systemd runs, on the same port. #}
webstack-apache-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.apache | json }}
    - require:
      - service: webstack-nginx-clean-service-dead
