{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{#- Nginx ends TLS where it is the front, or the load balancer (lb:engine nginx). #}
{%- set tls_here = webstack.tls.front or (webstack.nginx_lb and webstack.tls.lb) %}
include:
  - .package
{%- if tls_here %}
  - {{ tplroot }}.tls
{%- elif not (webstack.tls.front or webstack.tls.lb) %}
  - {{ tplroot }}.tls.clean
{%- endif %}
{%- if webstack.nginx_lb %}

{#- The load balancer's app nodes (from the mine), in a file of their own that a
    drain changes (webstack_nginx): a node drained now stays drained. #}
webstack-nginx-config-webstack_nginx-upstream_managed:
  webstack_nginx.upstream_managed:
    - name: {{ webstack.nginx_upstream_file }}
    - servers: {{ webstack.cluster.backends | json }}
    - max_fails: {{ webstack.lb.fall }}
    - fail_timeout: {{ webstack.lb.fail_timeout }}
    - require:
      - pkg: webstack-nginx-package-pkg-installed
{%- endif %}

{#- The whole nginx.conf, so that `nginx -t -c <candidate>` checks exactly what goes live:
    the app's front, or the load balancer. #}
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
{%- if webstack.nginx_lb %}
      - webstack_nginx: webstack-nginx-config-webstack_nginx-upstream_managed
{%- endif %}
{%- if tls_here %}
      - {{ webstack.tls.requisite | yaml(False) }}
{%- endif %}
