{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set app = webstack.app %}
{%- set host = (app.allowed_hosts | reject('equalto', '*') | list + ['localhost'])[0] | replace('.', '', 1) if (app.allowed_hosts | reject('equalto', '*') | list + ['localhost'])[0].startswith('.') else (app.allowed_hosts | reject('equalto', '*') | list + ['localhost'])[0] %}
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
