{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - {{ tplroot }}.validate

webstack-memcached-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.memcached | json }}
