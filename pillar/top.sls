{#- Roles are assigned here, by minion id, never by grains (a minion sets its own
    grains; grains must not decide who receives a database password). The
    cluster's roles live in webstack/nodes.yaml. #}
{%- import_yaml 'webstack/nodes.yaml' as nodes %}
base:
  # one server with the whole stack
  'single*':
    - webstack.single
    - webstack.secrets
{%- for id, roles in (nodes or {}) | dictsort %}
{#-   a literal id only: a glob here would hand secrets to every minion it matches #}
{%-   if id is string and id | regex_match('^([A-Za-z0-9][A-Za-z0-9._-]*)$') %}
  {{ id | json }}:
    - webstack.cluster
{%-   if roles | select('in', ['db', 'cache', 'app', 'worker']) | list %}
    - webstack.secrets
{%-   endif %}
{%-   endif %}
{%- endfor %}
  # the master itself (orchestration): the topology, no secret
  '*_master':
    - webstack.cluster
