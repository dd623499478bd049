{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .config

{#- pg_hba and most settings need a reload; listen_addresses and port a restart (below). #}
{#- `sig`: the server's process tells whether it runs (the init script's status
    takes half a second). #}
webstack-postgres-service-running:
  service.running:
    - name: {{ webstack.services.postgres }}
    - sig: {{ (webstack.postgres_bin_dir ~ '/postgres ') | json }}
    - enable: True
    - reload: True
    - watch:
      - file: webstack-postgres-config-conf-file-managed
      - file: webstack-postgres-config-hba-file-managed

{#- A restart only when the running server listens elsewhere than configured
    (a package starts PostgreSQL on localhost before the config is written), or
    archives when it should not or the other way round (backup:enabled). A
    server that is not running (not installed yet, or stopped) is started by the
    state above with the config as written, so it needs none (the first test): this
    is also what test=True predicts on a fresh or stopped server. A server that started after
    the config was last written (its postmaster.pid is newer) reads it as it is:
    only after a change is it asked where it listens. #}
{%- set pg = webstack.postgres %}
{%- set wanted = pg.listen_addresses ~ ':' ~ pg.port ~ ':' ~ ('on' if webstack.backup.enabled else 'off') %}
{%- set query = "SELECT current_setting('listen_addresses') || ':' || current_setting('port') || ':' || current_setting('archive_mode')" %}
webstack-postgres-service-restart-for-listen-cmd-run:
  cmd.run:
    - name: {{ ('service ' ~ webstack.services.postgres | quote ~ ' restart') | json }}
    - unless: {{ ('! pgrep -u postgres -x postgres >/dev/null || test ' ~ (webstack.postgres_data_dir ~ '/postmaster.pid') | quote ~ ' -nt '
                  ~ (webstack.postgres_conf_dir ~ '/conf.d/webstack.conf') | quote
                  ~ ' || test "$(runuser -u postgres -- psql -p ' ~ pg.port ~ ' -XAtc ' ~ query | quote ~ ')" = '
                  ~ wanted | quote) | json }}
    - require:
      - service: webstack-postgres-service-running
