{#- Gunicorn removed (another wsgi:server was chosen): its program, under either
    process manager, and its config, once the server that replaces it answers. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/process.jinja" import program_absent with context %}
{%- set app = webstack.app %}
include:
  - {{ tplroot }}.app.health

{{ program_absent('webstack-gunicorn-clean', webstack, app.programs.gunicorn,
                  require=[{'webstack_health': 'webstack-app-health-webstack_health-ok'}]) }}

webstack-gunicorn-clean-config-file-absent:
  file.absent:
    - name: {{ app.config_dir }}/gunicorn.conf.py
    - require:
      - webstack_process: webstack-gunicorn-clean-supervisord-webstack_process-absent
      - webstack_process: webstack-gunicorn-clean-systemd-webstack_process-absent

{#- The socket, in case Gunicorn could not remove it (file.absent handles
    regular files and directories only). #}
webstack-gunicorn-clean-socket-cmd-run:
  cmd.run:
    - name: {{ ('rm -f ' ~ (app.run_dir ~ '/gunicorn.sock') | quote) | json }}
    - onlyif: {{ ('test -e ' ~ (app.run_dir ~ '/gunicorn.sock') | quote) | json }}
    - require:
      - webstack_process: webstack-gunicorn-clean-supervisord-webstack_process-absent
      - webstack_process: webstack-gunicorn-clean-systemd-webstack_process-absent
