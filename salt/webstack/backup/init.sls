{#- The continuous backups (backup:enabled, role single; PostgreSQL): pgBackRest for the
    database and restic for the uploads, their repositories under backup:path, both
    encrypted with backup:passphrase. PostgreSQL archives every WAL segment through
    pgBackRest (postgres/files/webstack.conf.jinja); cron takes the uploads' snapshots and
    the full and differential backups on their schedule, and runs the restore drill; the
    first backup and snapshot are taken, and a first drill runs, at once, so that a restore
    works and webstack_backup.status has a drill to report from the first run on. With
    backup:offsite, both repositories have a copy in an S3 bucket: pgBackRest's repo2 and a
    restic repository that each snapshot is copied to. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set b = webstack.backup %}
include:
  - {{ tplroot }}.postgres
  - {{ tplroot }}.app.config

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

{#- the passphrase is in it: no diff in the state's output. PostgreSQL may start before it is
    written (its archive_command fails until then, and PostgreSQL keeps the WAL and tries
    again): the stanza below waits for both. #}
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
      - file: webstack-app-config-media-file-directory

{#- the uploads' repository (restic, as root), encrypted with the same passphrase #}
webstack-backup-etc-file-directory:
  file.directory:
    - name: {{ b.password_file.rsplit('/', 1)[0] }}
    - user: root
    - group: root
    - mode: '0700'
    - makedirs: True

{#- from a template, as every file with a secret: the passphrase is in no state's arguments #}
webstack-backup-restic-password-file-managed:
  file.managed:
    - name: {{ b.password_file }}
    - source: salt://{{ tpldir }}/files/restic-password.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: root
    - mode: '0600'
    - show_changes: False
    - require:
      - file: webstack-backup-etc-file-directory

{#- the off-site copy's key, for restic (pgBackRest reads its own from its configuration),
    and the authority of the store's certificate where the pillar names one #}
{%- if b.offsite %}
webstack-backup-s3-key-file-managed:
  file.managed:
    - name: {{ b.s3_env_file }}
    - source: salt://{{ tpldir }}/files/s3.env.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: root
    - mode: '0600'
    - show_changes: False
    - require:
      - file: webstack-backup-etc-file-directory
    - require_in:
      - webstack_backup: webstack-backup-files-webstack_backup-files_repository_present
{%- else %}
webstack-backup-s3-key-file-absent:
  file.absent:
    - name: {{ b.s3_env_file }}
{%- endif %}
{%- if b.offsite and b.s3_ca %}
webstack-backup-s3-authority-file-managed:
  file.managed:
    - name: {{ b.s3_ca_file }}
    - contents: {{ b.s3_ca | json }}
    - user: root
    - group: root
    - mode: '0644'
    - require_in:
      - webstack_backup: webstack-backup-stanza-webstack_backup-stanza_present
      - webstack_backup: webstack-backup-files-webstack_backup-files_repository_present
{%- else %}
webstack-backup-s3-authority-file-absent:
  file.absent:
    - name: {{ b.s3_ca_file }}
{%- endif %}

webstack-backup-files-repository-file-directory:
  file.directory:
    - name: {{ b.files_repo }}
    - user: root
    - group: root
    - mode: '0700'
    - require:
      - file: webstack-backup-path-file-directory

webstack-backup-files-webstack_backup-files_repository_present:
  webstack_backup.files_repository_present:
    - name: {{ b.files_repo }}
    - require:
      - pkg: webstack-backup-package-pkg-installed
      - file: webstack-backup-restic-password-file-managed
      - file: webstack-backup-files-repository-file-directory
    - require_in:
      - webstack_backup: webstack-backup-first-webstack_backup-backup_present

webstack-backup-drill-webstack_backup-drill_present:
  webstack_backup.drill_present:
    - name: {{ b.stanza }}
    - require:
      - webstack_backup: webstack-backup-first-webstack_backup-backup_present

webstack-backup-schedule-file-managed:
  file.managed:
    - name: {{ webstack.backup.cron_file }}
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
