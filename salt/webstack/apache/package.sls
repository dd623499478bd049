{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - {{ tplroot }}.validate

{#- Installing it never stops Nginx (orch.deploy installs it in its build step,
    before the node is drained); the service waits for Nginx to go (service.sls).
    Where systemd runs, the package tries to start Apache: with Nginx on the same
    port that start fails, and the package is installed all the same. #}
webstack-apache-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.apache | json }}
