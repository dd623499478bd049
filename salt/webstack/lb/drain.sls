{#- orch.deploy / orch.rollback, per app node: take it out of the load balancer
    and wait until its sessions reach zero (Nginx: until the old workers of the
    reload are done). The node comes as inline pillar webstack_orch:node. A node
    the load balancer does not know yet has nothing to drain. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set node = (pillar.get('webstack_orch') or {}).get('node') %}
{%- if node %}
{#- Whichever load balancer runs now: during a switch of lb:engine the old one serves
    until the load balancer's step; the one that does not run has nothing to do. #}
webstack-lb-drain-webstack_nginx-drained:
  webstack_nginx.drained:
    - name: {{ node }}
    - path: {{ webstack.nginx_upstream_file }}
    - timeout: {{ webstack.wsgi.timeout + 5 }}
    - pidfile: {{ webstack.nginx_pool_pidfile }}
    - conf: {{ webstack.nginx_pool_conf }}
    - missing_ok: True

webstack-lb-drain-webstack_haproxy-drained:
  webstack_haproxy.drained:
    - name: {{ node }}
    - backend: app
    - timeout: {{ webstack.wsgi.timeout + 5 }}
    - socket: {{ webstack.haproxy_admin_socket }}
    - missing_ok: True
{%- else %}
webstack-lb-drain-node-missing:
  test.fail_without_changes:
    - name: webstack.lb.drain needs the node in the inline pillar webstack_orch:node (orch.deploy and orch.rollback pass it)
{%- endif %}
