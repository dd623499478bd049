{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set app = webstack.app %}
include:
  - {{ webstack.wsgi_sls }}

{#- Straight to the WSGI server's socket (Gunicorn: HTTP, uWSGI: the uwsgi
    protocol): the app answers, whatever the web server does. mod_wsgi has no
    socket of its own: through Apache. #}
webstack-app-health-webstack_health-ok:
  webstack_health.ok:
    - name: {{ app.health_path }}
{%- for key, value in webstack.wsgi_check | dictsort %}
    - {{ key }}: {{ value | json }}
{%- endfor %}
    - retries: 60
    - interval: 0.5
    - require:
      - sls: {{ webstack.wsgi_sls }}
