{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{#- Nginx ends TLS where it is the front, or the load balancer (lb:engine nginx). #}
{%- set tls_here = webstack.tls.front or (webstack.nginx_lb and webstack.tls.lb) %}
include:
  - .package
{%- if not webstack.nginx_lb %}
  - {{ tplroot }}.maintenance
{%- endif %}
{%- if tls_here %}
  - {{ tplroot }}.tls
{%- elif not (webstack.tls.front or webstack.tls.lb) %}
  - {{ tplroot }}.tls.clean
{%- endif %}

{#- The whole nginx.conf, so that `nginx -t -c <candidate>` checks exactly what goes live:
    the app's front, or the load balancer's front (its pool: pool.sls). #}
webstack-nginx-config-file-managed:
  file.managed:
    - name: {{ webstack.nginx_conf }}
    - source: salt://{{ tpldir }}/files/{{ 'lb.conf.jinja' if webstack.nginx_lb else 'nginx.conf.jinja' }}
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: root
    - mode: '0644'
    - check_cmd: nginx -q -t -c
    - require:
      - pkg: webstack-nginx-package-pkg-installed
{%- if tls_here %}
      - {{ webstack.tls.requisite | yaml(False) }}
{%- endif %}
