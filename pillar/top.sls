{#- Roles are assigned here, by minion id, never by grains (a minion sets its own
    grains; grains must not decide who receives a database password). Every server
    of this master is named by its literal id in webstack/nodes.yaml: the cluster's
    nodes with their roles, a single server with [single]. #}
{%- import_yaml 'webstack/nodes.yaml' as nodes %}
{#- the roles (webstack/roles.yaml, the formula's registry): which one is a server
    alone, where HTTPS ends; the schema: which roles receive a secret #}
{%- import_yaml 'webstack/roles.yaml' as registry %}
{%- import_yaml 'webstack/schema.yaml' as schema %}
{%- set alone = [] %}
{%- set tls_roles = [] %}
{%- for role, facts in registry.items() %}
{%-   if (facts or {}).get('cluster') is sameas false %}{% do alone.append(role) %}{% endif %}
{%-   if (facts or {}).get('tls') %}{% do tls_roles.append(role) %}{% endif %}
{%- endfor %}
{%- set secret_roles = [] %}
{%- for path, spec in schema.items() if spec.get('secret') %}
{%-   do secret_roles.extend(spec.get('roles') or []) %}
{%- endfor %}
{%- set ids = [] %}
{%- for id, roles in (nodes or {}) | dictsort %}
{#-   a literal id only: a glob here would hand secrets to every minion it matches #}
{%-   if id is string and id | regex_match('^([A-Za-z0-9][A-Za-z0-9._-]{0,62})\Z')
         and roles is iterable and roles is not string and roles is not mapping %}
{%-     do ids.append((id, roles | list)) %}
{%-   endif %}
{%- endfor %}
base:
{%- for id, roles in ids %}
  {{ id | json }}:
{%-   if roles | select('in', alone) | list %}
    # the whole stack on one server: every secret
    - webstack.single
    - webstack.secrets
{%-   else %}
    - webstack.cluster
{%-     if roles | select('in', secret_roles) | list %}
    - webstack.role_secrets
{%-     endif %}
{%-   endif %}
{%- endfor %}
{#- The certificate and key where TLS ends (the roles with tls: single servers, the lb nodes), if the
    operator wrote webstack/tls.sls (root only); without it, a self-signed one. #}
{%- set tls_ids = [] %}
{%- for id, roles in ids if roles | select('in', tls_roles) | list %}{% do tls_ids.append(id) %}{% endfor %}
{%- if tls_ids %}
  {{ ('L@' ~ tls_ids | join(',')) | json }}:
    - match: compound
    - webstack.tls
    - ignore_missing: True
{%- endif %}
  # the master itself (orchestration): the topology, no secret
  '*_master':
    - webstack.cluster
