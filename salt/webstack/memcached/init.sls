{%- from "webstack/map.jinja" import webstack with context %}
include:
  - .package
  - .config
{%- if webstack.memcached.firewall %}
  - .firewall
{%- endif %}
  - .service
