{#- salt-run state.orchestrate orch.deploy

    The preflight (every node answers, modules synced, addresses in the mine, every
    pillar valid, the master's own modules synced), then the rollout in
    orch/deploy_nodes.sls: the database, the cache, the storage node, the new release
    built on every app and worker node, the migrations once on the first app node,
    the app nodes one at a time out of and back into the load balancer, the workers,
    the load balancer's config and a smoke test through it. The first failure stops
    the run with a non-zero exit; the failed step's ID names the node and the step. #}
{%- from 'orch/common.jinja' import preflight, rollout, all_ids with context %}
{{ preflight() }}
{#- A git source is resolved to one commit on the first app or worker node while the
    rollout renders: on new nodes, git (with the rest of what builds a release) comes
    first. #}
{%- set _source = ((pillar.get('webstack') or {}).get('app') or {}).get('source', '') %}
{%- set _nodes = salt['pillar.get']('webstack:nodes', {}) %}
{%- set _builders = [] %}
{%- for id, roles in (_nodes if _nodes is mapping else {}) | dictsort %}
{%-   if id in all_ids and roles is iterable and roles is not string and ('app' in roles or 'worker' in roles) %}
{%-     do _builders.append(id) %}
{%-   endif %}
{%- endfor %}
{%- if _builders and _source is string and _source and not _source.startswith('salt://') %}

The app and worker nodes have what builds a release (git for the source):
  salt.state:
    - tgt: {{ _builders | join(',') }}
    - tgt_type: list
    - sls: webstack.app.package
    - failhard: True
{%- endif %}

{{ rollout('Roll out the release', 'orch.deploy_nodes', {}) }}
