{#- The rollout of orch.rollback (orch/rollback.sls runs it after its preflight).
    Switch the app nodes (one at a time, the same way as orch.deploy) and the
    workers back to the release that was current before the current one on the
    first app node (webstack_release.previous: the activation history, so a second
    rollback goes one release further back), or to the one the pillar names.
    Nothing is built and no migration runs. The release must exist on every app and
    worker node: where one lacks it, nothing is switched. Until the pillar's source
    changes, the next orch.deploy would bring the newer release back: fix the source
    first, or pin webstack:app:release in pillar. #}
{%- from 'orch/rollout.jinja' import ids, webstack, pending_nodes, rolling, switch_workers, smoke_test, ban_cache with context %}
{%- set target = pillar.get('release') %}
{%- if not target and ids.app %}
{%-   set answer = salt['saltutil.cmd'](ids.app[0], 'webstack_release.previous', arg=[webstack.app.base_dir], timeout=60) %}
{%-   set target = (answer.get(ids.app[0]) or {}).get('ret') %}
{%- endif %}
{%- set nodes = (ids.app + ids.worker) | unique | list %}
{%- set missing = [] %}
{%- if target is string and target | regex_match('^(([0-9]{8}T[0-9]{6}Z-)?[0-9a-f]{8})\Z') and nodes %}
{%-   set found = salt['saltutil.cmd'](nodes | join(','), 'webstack_release.find', arg=[webstack.app.base_dir, target], tgt_type='list', timeout=60) %}
{%-   for node in nodes %}
{%-     set ret = (found.get(node) or {}).get('ret') %}
{%-     if not (ret is string and ret.endswith(target[-8:])) %}{% do missing.append(node) %}{% endif %}
{%-   endfor %}
{%- endif %}
{%- if not target or target is not string or not target | regex_match('^(([0-9]{8}T[0-9]{6}Z-)?[0-9a-f]{8})\Z') %}

Find the release to roll back to:
  test.fail_without_changes:
    - name: >-
        no earlier release on {{ ids.app[0] if ids.app else 'any app node' }} (answer: {{ target | string | truncate(200) }});
        name one with pillar='{"release": "<release id or its 8 hex digits>"}'
    - failhard: True
{%- elif missing %}

Find release {{ target }} on every app and worker node:
  test.fail_without_changes:
    - name: >-
        release {{ target }} is not on {{ missing | join(', ') }} (webstack_release.list shows what each node has);
        nothing was switched
    - failhard: True
{%- else %}
{%- set pin = {'webstack': {'app': {'release': target}}} %}
{%- set pending = pending_nodes(ids.app, pin) | load_json %}
{{ rolling(pending, pin) }}
{%- if ids.worker %}
{{ switch_workers(pin, 'back to release ' ~ target) }}
{%- endif %}
{%- if ids.lb %}
{{ ban_cache(pending) }}

{{ smoke_test() }}
{%- endif %}
{%- endif %}
