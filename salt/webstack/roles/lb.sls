{#- Role lb: HAProxy in front of the app nodes, backends from the mine. #}
include:
  - webstack.validate
  - webstack.supervisor
  - webstack.haproxy
