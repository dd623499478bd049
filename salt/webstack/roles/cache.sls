{#- Role cache: Redis on the private address, with a password (the cache, Celery's
    broker); Memcached beside it with cache:engine memcached. #}
{%- from "webstack/map.jinja" import webstack with context %}
include:
  - webstack.validate
  - webstack.redis
{%- if webstack.cache.engine == 'memcached' %}
  - webstack.memcached
{%- endif %}
