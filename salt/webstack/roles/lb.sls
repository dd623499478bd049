{#- Role lb: the load balancer in front of the app nodes, backends from the mine:
    HAProxy under Supervisord, or Nginx (lb:engine: its front, the distribution's
    service, and its pool instance under Supervisord). Switching stops the other
    one first (the same ports). With varnish:enabled, Varnish between the front
    and the pool. The include order is the run order: what receives requests
    starts before what sends them, and stops after it. #}
{%- from "webstack/map.jinja" import webstack with context %}
include:
  - webstack.validate
{%- if webstack.nginx_lb %}
  - webstack.haproxy.clean
  - webstack.nginx.pool
{%-   if webstack.varnish.enabled %}
  - webstack.varnish
{%-   endif %}
  - webstack.nginx
{%- else %}
{%-   if not webstack.serves_http %}
  - webstack.nginx.clean
{%-   endif %}
{%-   if webstack.varnish.enabled %}
  - webstack.varnish
{%-   endif %}
  - webstack.supervisor
  - webstack.haproxy
{%- endif %}
{%- if not webstack.varnish.enabled %}
  - webstack.varnish.clean
{%- endif %}
