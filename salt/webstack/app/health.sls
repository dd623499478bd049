{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set app = webstack.app %}
include:
  - {{ webstack.wsgi_sls }}

{#- Straight to the WSGI server's socket: the app answers, whatever nginx does. #}
webstack-app-health-webstack_health-ok:
  webstack_health.ok:
    - name: {{ app.health_path }}
    - unix_socket: {{ app.socket }}
    - host_header: {{ webstack.health_host }}
    - retries: 60
    - interval: 0.5
    - require:
      - sls: {{ webstack.wsgi_sls }}
