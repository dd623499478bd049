{#- uWSGI removed (another wsgi:server was chosen): its program, under either
    process manager, its config and its sockets, once the server that replaces it
    answers. The package stays. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/process.jinja" import program_absent with context %}
{%- set app = webstack.app %}
include:
  - {{ tplroot }}.app.health

{{ program_absent('webstack-uwsgi-clean', webstack, app.programs.uwsgi,
                  require=[{'webstack_health': 'webstack-app-health-webstack_health-ok'}]) }}

webstack-uwsgi-clean-config-file-absent:
  file.absent:
    - name: {{ app.config_dir }}/uwsgi.ini
    - require:
      - webstack_process: webstack-uwsgi-clean-supervisord-webstack_process-absent
      - webstack_process: webstack-uwsgi-clean-systemd-webstack_process-absent

{#- Sockets and the FIFO, in case the master could not remove them (file.absent
    handles regular files and directories only). #}
{%- set leftovers = [app.run_dir ~ '/uwsgi.sock', app.uwsgi_fifo, app.uwsgi_stats] %}
webstack-uwsgi-clean-run-files-cmd-run:
  cmd.run:
    - name: {{ ('rm -f ' ~ leftovers | map('quote') | join(' ')) | json }}
    - onlyif: {{ ('test -e ' ~ leftovers | map('quote') | join(' -o -e ')) | json }}
    - require:
      - webstack_process: webstack-uwsgi-clean-supervisord-webstack_process-absent
      - webstack_process: webstack-uwsgi-clean-systemd-webstack_process-absent
