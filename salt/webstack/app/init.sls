{#- The application: its user, directories, config file and releases, served by
    the WSGI server that webstack:wsgi:server names (with its front server), and
    the other servers' leftovers removed, so that a switch leaves nothing behind. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .package
  - .user
  - .config
  - .release
  - {{ webstack.wsgi_sls }}
{%- for sls in webstack.wsgi_clean_sls %}
  - {{ sls }}
{%- endfor %}
  - .health
