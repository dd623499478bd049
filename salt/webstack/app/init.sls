{#- The application: its user, directories, config file and releases, served by
    the WSGI server that webstack:wsgi:server names. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .package
  - .user
  - .config
  - .release
  - {{ webstack.wsgi_sls }}
  - .health
