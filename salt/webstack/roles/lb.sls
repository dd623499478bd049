{#- Role lb: the load balancer in front of the app nodes, backends from the mine:
    HAProxy under Supervisord, or Nginx (lb:engine). Switching stops the other
    one first (the same ports). With varnish:enabled, Varnish between the front
    and the pool: it runs before the front sends it anything, and stops only
    after the front has stopped (the include order is the run order). #}
{%- from "webstack/map.jinja" import webstack with context %}
include:
  - webstack.validate
{%- if webstack.varnish.enabled %}
  - webstack.varnish
{%- endif %}
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
{%- if not webstack.varnish.enabled %}
  - webstack.varnish.clean
{%- endif %}
