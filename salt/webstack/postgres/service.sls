{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .config

{#- pg_hba and most settings need a reload; listen_addresses and port a restart (below). #}
webstack-postgres-service-running:
  service.running:
    - name: {{ webstack.services.postgres }}
    - enable: True
    - reload: True
    - watch:
      - file: webstack-postgres-config-conf-file-managed
      - file: webstack-postgres-config-hba-file-managed

{#- A restart only when the running server listens elsewhere than configured
    (a package starts PostgreSQL on localhost before the config is written). A
    server that is not running (not installed yet, or stopped) is started by the
    state above with the config as written, so it needs none: this is also what
    test=True predicts on a fresh or stopped server. #}
{%- set pg = webstack.postgres %}
{%- set wanted = pg.listen_addresses ~ ':' ~ pg.port %}
webstack-postgres-service-restart-for-listen-cmd-run:
  cmd.run:
    - name: service {{ webstack.services.postgres }} restart
    - onlyif: pgrep -u postgres -x postgres
    - unless: >-
        test "$(runuser -u postgres -- psql -p {{ pg.port }} -XAtc "SELECT current_setting('listen_addresses') || ':' || current_setting('port')")" = {{ wanted | json }}
    - require:
      - service: webstack-postgres-service-running
