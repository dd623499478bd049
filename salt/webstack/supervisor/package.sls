{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - {{ tplroot }}.validate

webstack-supervisor-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.supervisor | json }}

{#- Programs' logs carry URLs (password reset tokens among them): root only. #}
webstack-supervisor-package-logdir-file-directory:
  file.directory:
    - name: {{ webstack.supervisor.log_dir }}
    - user: root
    - group: root
    - mode: '0750'
