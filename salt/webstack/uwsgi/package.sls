{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - {{ tplroot }}.validate

{#- The distribution's uWSGI and its Python 3 plugin: the same Python as the
    releases' virtualenvs (app:python), which uWSGI runs with `virtualenv =`. #}
webstack-uwsgi-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.uwsgi | json }}
