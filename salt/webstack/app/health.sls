{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set app = webstack.app %}
{#- The Host header: the first allowed host that is a name ('.example.org' allows example.org). #}
{%- set hosts = app.allowed_hosts | reject('equalto', '*') | list + ['localhost'] %}
{%- set host = hosts[0][1:] if hosts[0].startswith('.') else hosts[0] %}
include:
  - {{ webstack.wsgi_sls }}

{#- Straight to the WSGI server's socket: the app answers, whatever nginx does. #}
webstack-app-health-webstack_health-ok:
  webstack_health.ok:
    - name: {{ app.health_path }}
    - unix_socket: {{ app.socket }}
    - host_header: {{ host }}
    - retries: 60
    - interval: 0.5
    - require:
      - sls: {{ webstack.wsgi_sls }}
