{#- Shared by every minion of the cluster and by the master (orchestration):
    the topology and the settings that are not secret. Each minion's roles come
    from nodes.yaml by its id (opts.id: the id its key was accepted under). Single
    servers ([single]) of the same master are not part of the cluster. #}
{%- import_yaml 'webstack/nodes.yaml' as nodes %}
{%- import_yaml 'webstack/roles.yaml' as registry %}
{%- set alone = [] %}
{%- for role, facts in registry.items() if (facts or {}).get('cluster') is sameas false %}{% do alone.append(role) %}{% endfor %}
{%- set cluster = {} %}
{%- for id, roles in (nodes or {}) | dictsort if roles is iterable and roles is not string
                                                and not (roles | select('in', alone) | list) %}
{%-   do cluster.update({id: roles}) %}
{%- endfor %}
# Every minion publishes its private address; the db, cache and lb configs use them.
# The storage node and its clients (app, worker) publish the certificate each presents
# to GlusterFS (made on first call); the others publish nothing there.
mine_functions:
  webstack_network.private_address: []
  webstack_glusterfs.certificate: []

webstack:
  nodes: {{ cluster | json }}
{%- if opts.id in cluster %}
  roles: {{ cluster[opts.id] | json }}
{%- endif %}
  app:
    name: webapp
    source: salt://example
    # the names clients use to reach the load balancer, plus localhost for checks
    allowed_hosts:
      - localhost
      - 127.0.0.1
      - lb1
  # the app nodes' WSGI server: gunicorn, uwsgi or mod_wsgi (orch.deploy switches
  # them one at a time, each drained from the load balancer first)
  # wsgi:
  #   server: gunicorn
  lb:
    port: 80
