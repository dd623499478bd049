{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - {{ tplroot }}.validate

{#- What builds the releases, and the packages that the project's requirements
    build or run against (app:system_packages), before any build. A package left
    out of the pillar later stays installed: a release that runs may need it. #}
webstack-app-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ (webstack.pkgs.python + webstack.app.system_packages) | unique | list | json }}
