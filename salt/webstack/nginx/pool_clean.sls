{#- Nginx's pool instance stopped and its Supervisord program removed (lb:engine
    haproxy). Its config and list of app nodes stay. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}

webstack-nginx-pool_clean-webstack_process-absent:
  webstack_process.absent:
    - name: nginx-pool
    - manager: supervisord
    - conf_dir: {{ webstack.supervisor.conf_dir }}
