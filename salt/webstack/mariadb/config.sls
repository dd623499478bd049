{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .package

{#- After Debian's 50-server.cnf, so that its bind-address and character set are
    these. #}
webstack-mariadb-config-file-managed:
  file.managed:
    - name: {{ webstack.mariadb_conf_dir }}/60-webstack.cnf
    - source: salt://{{ tpldir }}/files/webstack.cnf.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - pkg: webstack-mariadb-package-pkg-installed
