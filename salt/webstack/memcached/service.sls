{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .config

{#- Memcached reads its options only when it starts: a change restarts it (and
    empties the cache). #}
webstack-memcached-service-running:
  service.running:
    - name: {{ webstack.services.memcached }}
    - enable: True
    - watch:
      - file: webstack-memcached-config-file-managed
{%- if webstack.memcached.firewall %}
    - require:
      - webstack_nftables: webstack-memcached-firewall-table-webstack_nftables-table_loaded
{%- endif %}
