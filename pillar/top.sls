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
    - webstack.role_secrets
{%-   endif %}
{%-   endif %}
{%- endfor %}
{#- The certificate and key where TLS ends (role single, the lb nodes), if the
    operator wrote webstack/tls.sls (root only); without it, a self-signed one. #}
{%- set tls_ids = [] %}
{%- for id, roles in (nodes or {}) | dictsort %}
{%-   if id is string and id | regex_match('^([A-Za-z0-9][A-Za-z0-9._-]*)$') and 'lb' in roles %}{% do tls_ids.append(id) %}{% endif %}
{%- endfor %}
  {{ ('single*' ~ (' or L@' ~ tls_ids | join(',') if tls_ids else '')) | json }}:
    - match: compound
    - webstack.tls
    - ignore_missing: True
  # the master itself (orchestration): the topology, no secret
  '*_master':
    - webstack.cluster
