{#- HAProxy stopped and its Supervisord program removed (lb:engine nginx: Nginx
    takes the ports). Its package and config stay; a switch back rewrites them. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}

webstack-haproxy-clean-webstack_process-absent:
  webstack_process.absent:
    - name: haproxy
    - manager: supervisord
    - conf_dir: {{ webstack.supervisor.conf_dir }}
