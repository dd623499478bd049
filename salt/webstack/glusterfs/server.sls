{#- The storage node: glusterd under Supervisord and the volume of the shared
    uploads, one brick, mountable only by the app and worker nodes (auth.allow,
    their addresses from the mine). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set g = webstack.glusterfs %}
{#- Without its own address in the mine, webstack.validate (first, failhard) stops
    the run, naming the node: nothing below runs. #}
include:
  - {{ tplroot }}.validate
  - {{ tplroot }}.supervisor

webstack-glusterfs-server-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.glusterfs_server | json }}
{%- if webstack.systemd_booted %}

{#- Supervisord runs glusterd: the package's own unit stays off. #}
webstack-glusterfs-server-distro-service-dead:
  service.dead:
    - name: {{ webstack.services.glusterd }}
    - enable: False
    - require:
      - pkg: webstack-glusterfs-server-package-pkg-installed
{%- endif %}

{#- Made once; its owner and mode are then the volume's root, which the app nodes
    set (the app's user, the web server's group, setgid). #}
webstack-glusterfs-server-brick-file-directory:
  file.directory:
    - name: {{ g.brick_dir }}
    - makedirs: True

{#- In the foreground (-N); the brick processes it starts run on their own, so a
    restart of glusterd does not interrupt the mounts. #}
webstack-glusterfs-server-glusterd-webstack_process-running:
  webstack_process.running:
    - name: glusterd
    - manager: supervisord
    - command:
      - {{ webstack.glusterd_bin }}
      - -N
    - stopwaitsecs: 30
    - stdout_logfile: {{ webstack.supervisor.log_dir }}/glusterd.log
    - conf_dir: {{ webstack.supervisor.conf_dir }}
    - require:
      - service: webstack-supervisor-service-running
      - pkg: webstack-glusterfs-server-package-pkg-installed
{%- if webstack.systemd_booted %}
      - service: webstack-glusterfs-server-distro-service-dead
{%- endif %}

webstack-glusterfs-server-volume-webstack_glusterfs-volume_present:
  webstack_glusterfs.volume_present:
    - name: {{ g.volume }}
    - brick: {{ ((g.brick_host or '127.0.0.1') ~ ':' ~ g.brick_dir) | json }}
    - allow: {{ webstack.cluster.db_clients | json }}
    - force: {{ g.force }}
    - require:
      - webstack_process: webstack-glusterfs-server-glusterd-webstack_process-running
      - file: webstack-glusterfs-server-brick-file-directory
