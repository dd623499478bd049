{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set pg = webstack.postgres %}
include:
  - .service

webstack-postgres-database-user-postgres_user-present:
  postgres_user.present:
    - name: {{ pg.user }}
    - password: {{ pg.password | json }}
    - encrypted: scram-sha-256
    - login: True
    - createdb: False
    - superuser: False
    - user: postgres
    - require:
      - service: webstack-postgres-service-running

webstack-postgres-database-postgres_database-present:
  postgres_database.present:
    - name: {{ pg.name }}
    - owner: {{ pg.user }}
    - encoding: UTF8
    - lc_collate: C.UTF-8
    - lc_ctype: C.UTF-8
    - template: template0
    - user: postgres
    - require:
      - postgres_user: webstack-postgres-database-user-postgres_user-present
