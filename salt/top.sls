{#- Roles come from pillar (assigned by minion id in pillar/top.sls), never from grains. #}
base:
  'I@webstack:roles:single':
    - match: compound
    - webstack.roles.single
