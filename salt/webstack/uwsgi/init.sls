{#- uWSGI behind Nginx (wsgi:server uwsgi). #}
{%- set tplroot = tpldir.split('/')[0] %}
include:
  - .package
  - .config
  - .service
  - {{ tplroot }}.nginx
