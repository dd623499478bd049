{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set db = webstack.mariadb %}
include:
  - .service

webstack-mariadb-database-webstack_mariadb-database_present:
  webstack_mariadb.database_present:
    - name: {{ db.name }}
    - binary: {{ webstack.mariadb_bin }}
    - require:
      - service: webstack-mariadb-service-running

{#- The app's user, from this host (role single) or from the cluster's app and
    worker nodes (their addresses from the mine), with every privilege on its
    database and none elsewhere; from another node over TLS only. #}
webstack-mariadb-database-user-webstack_mariadb-user_present:
  webstack_mariadb.user_present:
    - name: {{ db.user }}
    - password: {{ db.password | json }}
    - hosts: {{ db.client_hosts | json }}
    - database: {{ db.name }}
    - binary: {{ webstack.mariadb_bin }}
    - require_tls: True
    - require:
      - webstack_mariadb: webstack-mariadb-database-webstack_mariadb-database_present
