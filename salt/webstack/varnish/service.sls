{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set v = webstack.varnish %}
include:
  - .config
  - {{ tplroot }}.supervisor

{#- In the foreground (-F) under Supervisord whatever webstack:process_manager
    says, on 127.0.0.1 only; a change of its ports or memory restarts it (the
    cache starts empty), a change of the VCL does not (below). #}
webstack-varnish-service-webstack_process-running:
  webstack_process.running:
    - name: varnish
    - manager: supervisord
    - command:
      - {{ webstack.varnish_bin }}
      - -F
      - -a
      - 127.0.0.1:{{ v.port }}
      - -T
      - 127.0.0.1:{{ v.admin_port }}
      - -S
      - {{ webstack.varnish_secret }}
      - -f
      - {{ webstack.varnish_vcl }}
      - -s
      - malloc,{{ v.memory }}m
      - -p
      - default_ttl={{ v.default_ttl }}
    - stopwaitsecs: 30
    - stdout_logfile: {{ webstack.supervisor.log_dir }}/varnish.log
    - conf_dir: {{ webstack.supervisor.conf_dir }}
    - require:
      - service: webstack-supervisor-service-running
      - file: webstack-varnish-config-file-managed
{%- if webstack.systemd_booted %}
      - service: webstack-varnish-package-distro-service-dead
{%- endif %}

{#- A new VCL is loaded and used in the running Varnish: its cache is kept. #}
webstack-varnish-service-webstack_varnish-vcl_active:
  webstack_varnish.vcl_active:
    - name: {{ webstack.varnish_vcl }}
    - admin_port: {{ v.admin_port }}
    - secret: {{ webstack.varnish_secret }}
    - require:
      - webstack_process: webstack-varnish-service-webstack_process-running
