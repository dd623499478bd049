{#- Roles come from pillar (assigned by minion id in pillar/top.sls), never from
    grains. A minion with several roles gets each role's states once. #}
base:
  'I@webstack:roles:single':
    - match: compound
    - webstack.roles.single
{%- for role in ['db', 'cache', 'app', 'worker', 'lb', 'storage'] %}
  'I@webstack:roles:{{ role }}':
    - match: compound
    - webstack.roles.{{ role }}
{%- endfor %}
