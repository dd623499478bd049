{#- The maintenance page that the front server (Nginx, Apache) answers with, status 503,
    while the app's flag exists in the flags' directory (root's: only root puts a site
    in maintenance, as webstack_backup.restore does). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set m = webstack.maintenance %}

webstack-maintenance-page-file-managed:
  file.managed:
    - name: {{ m.root ~ '/' ~ m.page }}
    - source: salt://{{ tpldir }}/files/maintenance.html
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True

webstack-maintenance-flags-file-directory:
  file.directory:
    - name: {{ m.flag_dir }}
    - user: root
    - group: root
    - mode: '0755'
    - makedirs: True
