{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set app = webstack.app %}
include:
  - .package
  - {{ tplroot }}.app.config
  - {{ tplroot }}.maintenance
{%- if webstack.tls.front %}
  - {{ tplroot }}.tls
{%- elif not (webstack.tls.front or webstack.tls.lb) %}
  - {{ tplroot }}.tls.clean
{%- endif %}

{#- mod_wsgi's script was <base_dir>/app.wsgi before the app's entry replaced it. #}
webstack-apache-config-old-wsgi-script-file-absent:
  file.absent:
    - name: {{ app.base_dir }}/app.wsgi

{#- The whole apache2.conf, so that `apachectl configtest` (-t) checks exactly
    what goes live. #}
webstack-apache-config-file-managed:
  file.managed:
    - name: {{ webstack.apache_conf }}
    - source: salt://{{ tpldir }}/files/apache2.conf.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: root
    - mode: '0644'
    - check_cmd: {{ (webstack.apache_ctl | quote ~ ' -t -f') | json }}
    - require:
      - pkg: webstack-apache-package-pkg-installed
{%- if webstack.tls.front %}
      - {{ webstack.tls.requisite | yaml(False) }}
{%- endif %}
      - file: webstack-app-config-entry-file-managed
