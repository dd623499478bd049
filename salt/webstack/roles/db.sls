{#- Role db: the database server (db:engine: PostgreSQL, or MariaDB) on the private
    address, open to the app and worker nodes only. #}
{%- from "webstack/map.jinja" import webstack with context %}
include:
  - webstack.validate
  - webstack.{{ 'mariadb' if webstack.db.engine == 'mariadb' else 'postgres' }}
