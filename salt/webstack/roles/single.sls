{#- Role single: the whole small-project stack on one server. States run in
    include order: validation, database (db:engine), cache (cache:engine; Redis
    also as Celery's broker), the app with its WSGI server and web server (and
    their process manager), then the worker; with backup:enabled, the continuous
    backups of the database and the uploads last (the uploads' directory is the app's). #}
{%- from "webstack/map.jinja" import webstack with context %}
include:
  - webstack.validate
  - webstack.{{ 'mariadb' if webstack.db.engine == 'mariadb' else 'postgres' }}
  - webstack.redis
{%- if webstack.cache.engine == 'memcached' %}
  - webstack.memcached
{%- endif %}
  - webstack.app
  - webstack.celery
  - webstack.rq
{%- if webstack.backup.enabled %}
  - webstack.backup
{%- else %}
  - webstack.backup.clean
{%- endif %}
