{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - {{ tplroot }}.validate

webstack-app-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.python | json }}
