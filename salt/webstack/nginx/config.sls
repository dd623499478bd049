{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .package
{%- if webstack.tls.front %}
  - {{ tplroot }}.tls
{%- elif not (webstack.tls.front or webstack.tls.lb) %}
  - {{ tplroot }}.tls.clean
{%- endif %}

{#- The whole nginx.conf, so that `nginx -t -c <candidate>` checks exactly what goes live. #}
webstack-nginx-config-file-managed:
  file.managed:
    - name: {{ webstack.nginx_conf }}
    - source: salt://{{ tpldir }}/files/nginx.conf.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: root
    - mode: '0644'
    - check_cmd: nginx -q -t -c
    - require:
      - pkg: webstack-nginx-package-pkg-installed
{%- if webstack.tls.front %}
      - {{ webstack.tls.requisite | yaml(False) }}
{%- endif %}
