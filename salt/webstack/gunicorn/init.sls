{#- Gunicorn behind Nginx (wsgi:server gunicorn, the default). #}
{%- set tplroot = tpldir.split('/')[0] %}
include:
  - .config
  - .service
  - {{ tplroot }}.nginx
