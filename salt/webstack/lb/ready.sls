{#- orch.deploy / orch.rollback, per app node: back in the load balancer, and
    wait until HAProxy's health checks report it UP. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
webstack-lb-ready-webstack_haproxy-ready:
  webstack_haproxy.ready:
    - name: {{ pillar['webstack_orch']['node'] }}
    - backend: app
    - timeout: 60
    - socket: {{ webstack.haproxy_admin_socket }}
    - missing_ok: True
