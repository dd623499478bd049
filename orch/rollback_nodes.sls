{#- The rollout of orch.rollback (orch/rollback.sls runs it after its preflight).
    Switch the app nodes (one at a time, the same way as orch.deploy) and the
    workers back to an earlier release that they still have. Default: the
    release built before the newest one on the first app node. Nothing is
    built and no migration runs. Until the pillar's source changes, the next
    orch.deploy would bring the newer release back: fix the source first, or
    pin webstack:app:release in pillar. #}
{%- from 'orch/rollout.jinja' import ids, webstack, pending_nodes, rolling, smoke_test with context %}
{%- set target = pillar.get('release') %}
{%- if not target and ids.app %}
{%-   set answer = salt['saltutil.cmd'](ids.app[0], 'webstack_release.previous', arg=[webstack.app.base_dir], timeout=60) %}
{%-   set target = (answer.get(ids.app[0]) or {}).get('ret') %}
{%- endif %}
{%- if not target or target is not string %}

Find the release to roll back to:
  test.fail_without_changes:
    - name: >-
        no earlier release on {{ ids.app[0] if ids.app else 'any app node' }} (answer: {{ target | string }});
        name one with pillar='{"release": "<release id or its 8 hex digits>"}'
    - failhard: True
{%- else %}
{%- set pin = {'webstack': {'app': {'release': target}}} %}
{%- set pending = pending_nodes(ids.app, pin) | load_json %}
{{ rolling(pending, pin) }}
{%- if ids.worker %}

Switch the workers back to release {{ target }} on {{ ids.worker | join(', ') }}:
  salt.state:
    - tgt: {{ ids.worker | join(',') }}
    - tgt_type: list
    - sls: webstack.roles.worker
    - pillar: {{ pin | json }}
    - failhard: True
{%- endif %}
{%- if ids.lb %}

{{ smoke_test() }}
{%- endif %}
{%- endif %}
