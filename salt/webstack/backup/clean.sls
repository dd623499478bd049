{#- Backups turned off (backup:enabled false): cron runs them no more. The repositories,
    their passphrase's file and the drill's record stay where they are: they hold the
    backups taken so far (remove them by hand once they are not needed). The off-site
    store's key goes: nothing copies to it any more. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}

webstack-backup-clean-schedule-file-absent:
  file.absent:
    - name: {{ webstack.backup.cron_file }}

webstack-backup-clean-s3-key-file-absent:
  file.absent:
    - name: {{ webstack.backup.s3_env_file }}
