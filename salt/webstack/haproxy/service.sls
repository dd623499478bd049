{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .config
  - {{ tplroot }}.supervisor
{%- if not webstack.serves_http %}
  - {{ tplroot }}.nginx.clean
  - {{ tplroot }}.nginx.pool_clean
{%- endif %}

{#- Before a reload: the servers' drain/maintenance states, for the new workers. #}
webstack-haproxy-service-webstack_haproxy-state_saved:
  webstack_haproxy.state_saved:
    - name: {{ webstack.haproxy_state_file }}
    - socket: {{ webstack.haproxy_admin_socket }}
    - onchanges:
      - file: webstack-haproxy-config-file-managed
{%- if webstack.tls.lb %}
      - {{ webstack.tls.requisite | yaml(False) }}
{%- endif %}

{#- Master-worker mode (-W) in the foreground (-db), under Supervisord whatever
    webstack:process_manager says; a config change reloads it with USR2 (new
    workers, same sockets), a stop is a soft stop (USR1). #}
webstack-haproxy-service-webstack_process-running:
  webstack_process.running:
    - name: haproxy
    - manager: supervisord
    - command:
      - {{ webstack.haproxy_bin }}
      - -W
      - -db
      - -f
      - {{ webstack.haproxy_conf }}
    - stopsignal: USR1
    - stopwaitsecs: 30
    - stdout_logfile: {{ webstack.supervisor.log_dir }}/haproxy.log
    - conf_dir: {{ webstack.supervisor.conf_dir }}
    - reload_signal: USR2
    - require:
      - service: webstack-supervisor-service-running
      - service: webstack-haproxy-package-distro-service-dead
      - file: webstack-haproxy-config-run-file-directory
      - webstack_haproxy: webstack-haproxy-service-webstack_haproxy-state_saved
{%- if not webstack.serves_http %}
      - service: webstack-nginx-clean-service-dead
      - webstack_process: webstack-nginx-pool_clean-webstack_process-absent
{%- endif %}
    - watch:
      - file: webstack-haproxy-config-file-managed
{%- if webstack.tls.lb %}
      - {{ webstack.tls.requisite | yaml(False) }}
{%- endif %}
