{#- The database's continuous backups (backup:enabled, role single; PostgreSQL): pgBackRest
    with its repository under backup:path, encrypted with backup:passphrase. PostgreSQL
    archives every WAL segment through it (postgres/files/webstack.conf.jinja); cron
    takes the full and differential backups on their schedule; the first full backup is
    taken at once, so that a restore works from the first run on. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set b = webstack.backup %}
include:
  - {{ tplroot }}.postgres

webstack-backup-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.backup | json }}

webstack-backup-path-file-directory:
  file.directory:
    - name: {{ b.path }}
    - user: root
    - group: root
    - mode: '0755'
    - makedirs: True

webstack-backup-pg-repository-file-directory:
  file.directory:
    - name: {{ b.pg_repo }}
    - user: postgres
    - group: postgres
    - mode: '0750'
    - require:
      - file: webstack-backup-path-file-directory
      - pkg: webstack-postgres-package-pkg-installed

{#- the passphrase is in it: no diff in the state's output #}
webstack-backup-pgbackrest-config-file-managed:
  file.managed:
    - name: {{ webstack.pgbackrest_conf }}
    - source: salt://{{ tpldir }}/files/pgbackrest.conf.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: postgres
    - mode: '0640'
    - show_changes: False
    - require:
      - pkg: webstack-backup-package-pkg-installed
      - pkg: webstack-postgres-package-pkg-installed
    - require_in:
      - service: webstack-postgres-service-running

webstack-backup-stanza-webstack_backup-stanza_present:
  webstack_backup.stanza_present:
    - name: {{ b.stanza }}
    - require:
      - file: webstack-backup-pgbackrest-config-file-managed
      - file: webstack-backup-pg-repository-file-directory
      - cmd: webstack-postgres-service-restart-for-listen-cmd-run

webstack-backup-first-webstack_backup-backup_present:
  webstack_backup.backup_present:
    - name: {{ b.stanza }}
    - require:
      - webstack_backup: webstack-backup-stanza-webstack_backup-stanza_present

webstack-backup-schedule-file-managed:
  file.managed:
    - name: /etc/cron.d/webstack-backup-{{ webstack.app.name }}
    - source: salt://{{ tpldir }}/files/cron.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - webstack_backup: webstack-backup-first-webstack_backup-backup_present

webstack-backup-cron-service-running:
  service.running:
    - name: {{ webstack.services.cron }}
    - enable: True
    - require:
      - pkg: webstack-backup-package-pkg-installed
