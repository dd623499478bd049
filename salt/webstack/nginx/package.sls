{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - {{ tplroot }}.validate

{#- Installing it never stops Apache (a switch from mod_wsgi); the service waits
    for Apache to go (service.sls). #}
webstack-nginx-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.nginx | json }}
