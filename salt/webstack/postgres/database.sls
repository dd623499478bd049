{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set pg = webstack.postgres %}
include:
  - .service

{#- Salt loads its postgres states only where psql is installed. Under test=True
    on a host without it (a fresh server: the package states above only predict
    their install), the same state IDs predict the user and the database. #}
{%- if opts['test'] and not salt['cmd.which']('psql') %}
{%-   for id, what, name in [('webstack-postgres-database-user-postgres_user-present', 'user', pg.user),
                             ('webstack-postgres-database-postgres_database-present', 'database', pg.name)] %}
{{ id }}:
  test.configurable_test_state:
    - name: {{ name | json }}
    - changes: True
    - result: True
    - comment: {{ ('PostgreSQL ' ~ what ~ ' ' ~ name ~ ' would be created once PostgreSQL is installed') | json }}
{%-   endfor %}
{%- else %}
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
{%- endif %}
