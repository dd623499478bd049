{#- The rollout of orch.deploy (orch/deploy.sls runs it after its preflight): the
    roles set up first (roles.yaml: the database, the cache, the shared uploads'
    storage node), the new release built on every app and worker node, the
    migrations once on the first app node, then the app nodes one at a time out of
    and back into the load balancer, the workers (a warm shutdown lets running
    tasks finish), the load balancer's config and a smoke test through it.

    One orch.deploy deploys one commit: a git rev (a branch, a tag) is resolved
    here, once, to its commit id, and every build, the migrations and every node
    get that id (inline pillar webstack:app:rev), whatever is pushed meanwhile. The
    rollout then only switches to the release that the build step made and
    migrated (webstack_orch:switch_only): it never builds one. #}
{%- from 'orch/rollout.jinja' import ids, webstack, pending_nodes, rolling, switch_workers, smoke_test, ban_cache with context %}
{%- set app = webstack.app %}
{%- set builders = (ids.app + ids.worker) | unique | list %}
{%- set pin = {} %}
{%- set problem = namespace(text='') %}
{%- if builders and not app.source.startswith('salt://') and not app.rev | regex_match('^([0-9a-f]{40})\Z') %}
{%-   set answer = salt['saltutil.cmd'](builders[0], 'webstack_release.resolve_source', arg=[app.base_dir, app.source],
                                       kwarg={'rev': app.rev, 'test': True}, timeout=180) %}
{%-   set found = (answer.get(builders[0]) or {}).get('ret') %}
{%-   set commit = found.get('commit') if found is mapping else none %}
{%-   if commit is string and commit | regex_match('^([0-9a-f]{40})\Z') %}
{%-     do pin.update({'webstack': {'app': {'rev': commit}}}) %}
{%-   else %}
{%-     set problem.text = (found | string)[:500] %}
{%-   endif %}
{%- endif %}
{%- if problem.text %}

Resolve {{ app.rev }} of the source to one commit, on {{ builders[0] }}:
  test.fail_without_changes:
    - name: {{ ('git rev ' ~ app.rev ~ ' could not be resolved on ' ~ builders[0] ~ ': ' ~ problem.text) | json }}
    - comment: {{ ('git rev ' ~ app.rev ~ ' could not be resolved on ' ~ builders[0] ~ ': ' ~ problem.text) | json }}
    - failhard: True
{%- else %}
{%- set switch = {'webstack_orch': {'switch_only': True}} %}
{%- do switch.update(pin) %}
{%- set pending = pending_nodes(ids.app, switch) | load_json %}
{%- if pin %}

Deploy commit {{ pin.webstack.app.rev }} ({{ app.rev }}) everywhere:
  test.succeed_without_changes:
    - name: {{ app.rev }} is {{ pin.webstack.app.rev }}
{%- endif %}
{#- the roles that orch.deploy sets up first (roles.yaml's deploy: first), in its order:
    the database, the cache, the shared uploads' storage node #}
{%- for role, facts in webstack.cluster.roles.items() if facts.deploy == 'first' and ids[role] %}

{{ facts.step }} on {{ ids[role] | join(', ') }}:
  salt.state:
    - tgt: {{ ids[role] | join(',') }}
    - tgt_type: list
    - sls: webstack.roles.{{ role }}
    - failhard: True
{%- endfor %}
{%- if builders %}

Build the release on {{ builders | join(', ') }}:
  salt.state:
    - tgt: {{ builders | join(',') }}
    - tgt_type: list
    - sls: webstack.app.build
{%-   if pin %}
    - pillar: {{ pin | json }}
{%-   endif %}
    - failhard: True
{%- endif %}
{%- if ids.app %}

Run the migrations once, on {{ ids.app[0] }}:
  salt.state:
    - tgt: {{ ids.app[0] }}
    - sls: webstack.app.migrate
{%-   if pin %}
    - pillar: {{ pin | json }}
{%-   endif %}
    - failhard: True
{%- endif %}
{{ rolling(pending, switch) }}
{%- if ids.worker %}
{{ switch_workers(switch, 'to the release') }}
{%- endif %}
{%- if ids.lb %}

Configure the load balancer on {{ ids.lb | join(', ') }}:
  salt.state:
    - tgt: {{ ids.lb | join(',') }}
    - tgt_type: list
    - sls: webstack.roles.lb
    - failhard: True
{{ ban_cache(pending) }}

{{ smoke_test() }}
{%- endif %}
{%- endif %}
