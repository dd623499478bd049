{#- Role cache: Redis on the private address, with a password. #}
include:
  - webstack.validate
  - webstack.redis
