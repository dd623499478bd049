{#- orch.deploy / orch.rollback, per app node: back in the load balancer, and
    wait until HAProxy's health checks report it UP (Nginx: until its new workers
    run; orch.deploy has checked the node directly before). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set node = (pillar.get('webstack_orch') or {}).get('node') %}
{%- if node %}
{#- Whichever load balancer runs now: during a switch of lb:engine the old one serves
    until the load balancer's step; the one that does not run has nothing to do. #}
webstack-lb-ready-webstack_nginx-ready:
  webstack_nginx.ready:
    - name: {{ node }}
    - path: {{ webstack.nginx_upstream_file }}
    - timeout: 60
    - pidfile: {{ webstack.nginx_pool_pidfile }}
    - conf: {{ webstack.nginx_pool_conf }}
    - missing_ok: True

webstack-lb-ready-webstack_haproxy-ready:
  webstack_haproxy.ready:
    - name: {{ node }}
    - backend: app
    - timeout: 60
    - socket: {{ webstack.haproxy_admin_socket }}
    - missing_ok: True
{%- else %}
webstack-lb-ready-node-missing:
  test.fail_without_changes:
    - name: webstack.lb.ready needs the node in the inline pillar webstack_orch:node (orch.deploy and orch.rollback pass it)
{%- endif %}
