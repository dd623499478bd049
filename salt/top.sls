{#- Roles come from pillar (assigned by minion id in pillar/top.sls), never from
    grains. A minion with several roles gets each role's states once. The roles
    are those of salt/webstack/parameters/roles.yaml, each with its states,
    webstack.roles.<role>. #}
{%- import_yaml 'webstack/parameters/roles.yaml' as registry %}
base:
{%- for role in registry %}
  'I@webstack:roles:{{ role }}':
    - match: compound
    - webstack.roles.{{ role }}
{%- endfor %}
