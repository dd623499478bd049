{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - {{ tplroot }}.validate

webstack-postgres-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.postgres | json }}
