{#- Varnish stopped and its Supervisord program removed (varnish:enabled false).
    Its package and VCL stay. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}

webstack-varnish-clean-webstack_process-absent:
  webstack_process.absent:
    - name: varnish
    - manager: supervisord
    - conf_dir: {{ webstack.supervisor.conf_dir }}
