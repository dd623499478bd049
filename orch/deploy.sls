{#- salt-run state.orchestrate orch.deploy

    The preflight (every node answers, modules synced, addresses in the mine, every
    pillar valid, the master's own modules synced), then the rollout in
    orch/deploy_nodes.sls: the database, the cache, the new release built on every
    app and worker node, the migrations once on the first app node, the app nodes
    one at a time out of and back into the load balancer, the workers, the load
    balancer's config and a smoke test through it. The first failure stops the run
    with a non-zero exit; the failed step's ID names the node and the step. #}
{%- from 'orch/common.jinja' import preflight, rollout with context %}
{{ preflight() }}

{{ rollout('Roll out the release', 'orch.deploy_nodes', {}) }}
