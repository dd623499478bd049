{#- Role lb: the load balancer in front of the app nodes, backends from the mine:
    HAProxy under Supervisord, or Nginx (lb:engine). Switching stops the other
    one first (the same ports). #}
{%- from "webstack/map.jinja" import webstack with context %}
include:
  - webstack.validate
{%- if webstack.nginx_lb %}
  - webstack.haproxy.clean
  - webstack.nginx
{%- else %}
{%-   if not webstack.serves_http %}
  - webstack.nginx.clean
{%-   endif %}
  - webstack.supervisor
  - webstack.haproxy
{%- endif %}
