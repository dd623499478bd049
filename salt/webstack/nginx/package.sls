{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - {{ tplroot }}.validate
  - {{ tplroot }}.apache.clean

{#- Apache goes first (a switch from mod_wsgi): the package starts Nginx where
    systemd runs, on the same port. #}
webstack-nginx-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.nginx | json }}
    - require:
      - service: webstack-apache-clean-service-dead
