{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .package

webstack-postgres-config-conf-file-managed:
  file.managed:
    - name: {{ webstack.postgres_conf_dir }}/conf.d/webstack.conf
    - source: salt://{{ tpldir }}/files/webstack.conf.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: postgres
    - group: postgres
    - mode: '0644'
    - makedirs: True
    - require:
      - pkg: webstack-postgres-package-pkg-installed

webstack-postgres-config-hba-file-managed:
  file.managed:
    - name: {{ webstack.postgres_conf_dir }}/pg_hba.conf
    - source: salt://{{ tpldir }}/files/pg_hba.conf.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: postgres
    - group: postgres
    - mode: '0640'
    - require:
      - pkg: webstack-postgres-package-pkg-installed
