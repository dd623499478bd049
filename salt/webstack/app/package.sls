{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - {{ tplroot }}.validate

{#- What builds the releases (with MariaDB, what mysqlclient builds against), and the
    packages that the project's requirements build or run against
    (app:system_packages), before any build. A package left out of the pillar later
    stays installed: a release that runs may need it. #}
{%- set client = webstack.pkgs.mariadb_client if webstack.db.engine == 'mariadb' else [] %}
webstack-app-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ (webstack.pkgs.python + client + webstack.app.system_packages) | unique | list | json }}
