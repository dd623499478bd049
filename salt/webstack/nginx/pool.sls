{#- Nginx as the load balancer (lb:engine nginx), its pool instance: a second Nginx
    under Supervisord (whatever process_manager says), on 127.0.0.1:lb:pool_port,
    with the app nodes. A drain reloads this instance only (webstack_nginx, HUP to
    its master); the front (nginx.conf, the distribution's service) sends it a new
    connection per request and is not reloaded, so no client connection closes. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .package
  - {{ tplroot }}.supervisor
  - {{ tplroot }}.haproxy.clean

{#- The app nodes (from the mine), in a file of their own that a drain changes: a
    node drained now stays drained. Checked with the pool's config. #}
webstack-nginx-pool-webstack_nginx-upstream_managed:
  webstack_nginx.upstream_managed:
    - name: {{ webstack.nginx_upstream_file }}
    - servers: {{ webstack.cluster.backends | json }}
    - max_fails: {{ webstack.lb.fall }}
    - fail_timeout: {{ webstack.lb.fail_timeout }}
    - conf: {{ webstack.nginx_pool_conf }}
    - require:
      - pkg: webstack-nginx-package-pkg-installed

webstack-nginx-pool-config-file-managed:
  file.managed:
    - name: {{ webstack.nginx_pool_conf }}
    - source: salt://{{ tpldir }}/files/pool.conf.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: root
    - mode: '0644'
    - check_cmd: {{ (webstack.nginx_bin | quote ~ ' -q -t -c') | json }}
    - require:
      - webstack_nginx: webstack-nginx-pool-webstack_nginx-upstream_managed

{#- A change of its config or of the app nodes reloads it (HUP): new workers, the
    old ones finish their requests. #}
webstack-nginx-pool-webstack_process-running:
  webstack_process.running:
    - name: nginx-pool
    - manager: supervisord
    - command:
      - {{ webstack.nginx_bin }}
      - -c
      - {{ webstack.nginx_pool_conf }}
      - -g
      - 'daemon off;'
    - stopsignal: QUIT
    - stopwaitsecs: {{ webstack.wsgi.timeout + 5 }}
    - stdout_logfile: {{ webstack.supervisor.log_dir }}/nginx-pool.log
    - conf_dir: {{ webstack.supervisor.conf_dir }}
    - reload_signal: HUP
    - require:
      - service: webstack-supervisor-service-running
      - webstack_process: webstack-haproxy-clean-webstack_process-absent
    - watch:
      - file: webstack-nginx-pool-config-file-managed
      - webstack_nginx: webstack-nginx-pool-webstack_nginx-upstream_managed
