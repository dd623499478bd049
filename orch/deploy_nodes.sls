{#- The rollout of orch.deploy (orch/deploy.sls runs it after its preflight): the
    database, the cache, the new release built on every app and worker node, the
    migrations once on the first app node, then the app nodes one at a time out of
    and back into the load balancer, the workers (a warm shutdown lets running
    tasks finish), the load balancer's config and a smoke test through it. #}
{%- from 'orch/rollout.jinja' import ids, webstack, pending_nodes, rolling, smoke_test with context %}
{%- set pending = pending_nodes(ids.app, {}) | load_json %}
{%- if ids.db %}

Set up the database on {{ ids.db | join(', ') }}:
  salt.state:
    - tgt: {{ ids.db | join(',') }}
    - tgt_type: list
    - sls: webstack.roles.db
    - failhard: True
{%- endif %}
{%- if ids.cache %}

Set up the cache on {{ ids.cache | join(', ') }}:
  salt.state:
    - tgt: {{ ids.cache | join(',') }}
    - tgt_type: list
    - sls: webstack.roles.cache
    - failhard: True
{%- endif %}
{%- if ids.app or ids.worker %}

Build the release on {{ (ids.app + ids.worker) | unique | join(', ') }}:
  salt.state:
    - tgt: {{ (ids.app + ids.worker) | unique | join(',') }}
    - tgt_type: list
    - sls: webstack.app.build
    - failhard: True
{%- endif %}
{%- if ids.app %}

Run the migrations once, on {{ ids.app[0] }}:
  salt.state:
    - tgt: {{ ids.app[0] }}
    - sls: webstack.app.migrate
    - failhard: True
{%- endif %}
{{ rolling(pending, {}) }}
{%- if ids.worker %}

Switch the workers to the release on {{ ids.worker | join(', ') }}:
  salt.state:
    - tgt: {{ ids.worker | join(',') }}
    - tgt_type: list
    - sls: webstack.roles.worker
    - failhard: True
{%- endif %}
{%- if ids.lb %}

Configure the load balancer on {{ ids.lb | join(', ') }}:
  salt.state:
    - tgt: {{ ids.lb | join(',') }}
    - tgt_type: list
    - sls: webstack.roles.lb
    - failhard: True

{{ smoke_test() }}
{%- endif %}
