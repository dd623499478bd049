{#- orch.deploy / orch.rollback, per app node: back in the load balancer, and
    wait until HAProxy's health checks report it UP. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set node = (pillar.get('webstack_orch') or {}).get('node') %}
{%- if node %}
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
