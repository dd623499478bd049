{#- salt-run state.orchestrate orch.rollback [pillar='{"release": "<id or 8 hex>"}']

    The preflight of orch.deploy, then orch/rollback_nodes.sls: the app nodes (one
    at a time, the same way as orch.deploy) and the workers switched back to an
    earlier release that they still have. #}
{%- from 'orch/common.jinja' import preflight, rollout with context %}
{{ preflight() }}

{{ rollout('Roll back', 'orch.rollback_nodes', {'release': pillar['release']} if pillar.get('release') else {}) }}
