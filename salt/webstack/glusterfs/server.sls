{#- The storage node: glusterd under Supervisord and the volume of the shared
    uploads, one brick, mountable only by the app and worker nodes: their addresses
    (auth.allow, and a firewall of GlusterFS's ports that admits them alone, from
    the mine) and their certificates (TLS for management and I/O, each node's
    certificate from the mine, auth.ssl-allow). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/firewall.jinja" import firewall, rules_file with context %}
{%- set g = webstack.glusterfs %}
{%- set rules = rules_file('glusterfs') %}
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

{#- glusterd's management port and the bricks' ports answer the storage, app and
    worker nodes alone. #}
{{ firewall('webstack-glusterfs-server-firewall', webstack, 'glusterfs', "GlusterFS's management and brick ports",
            g.ports, g.members, 'the storage, app and worker nodes (from the mine)') }}

{#- This node's key and certificate, the app and worker nodes' certificates trusted
    (from the mine), TLS for management connections. #}
webstack-glusterfs-server-tls-webstack_glusterfs-tls_present:
  webstack_glusterfs.tls_present:
    - name: /etc/ssl/glusterfs.ca
    - peers: {{ g.peers | json }}
    - require:
      - pkg: webstack-glusterfs-server-package-pkg-installed

{#- Made once; its owner and mode are then the volume's root, which the app nodes
    set (the app's user, the web server's group, setgid). #}
webstack-glusterfs-server-brick-file-directory:
  file.directory:
    - name: {{ g.brick_dir }}
    - makedirs: True

{#- In the foreground (-N), its firewall loaded first (at boot too: Supervisord starts
    it); the brick processes it starts run on their own, so a restart of glusterd
    (the TLS files changed: it reads them when it starts) does not interrupt the
    mounts. #}
webstack-glusterfs-server-glusterd-webstack_process-running:
  webstack_process.running:
    - name: glusterd
    - manager: supervisord
    - command:
      - /bin/sh
      - -c
      - {{ (webstack.nft_bin ~ ' -f ' ~ rules ~ ' && exec ' ~ webstack.glusterd_bin ~ ' -N') | json }}
    - stopwaitsecs: 30
    - stdout_logfile: {{ webstack.supervisor.log_dir }}/glusterd.log
    - conf_dir: {{ webstack.supervisor.conf_dir }}
    - require:
      - service: webstack-supervisor-service-running
      - pkg: webstack-glusterfs-server-package-pkg-installed
      - webstack_nftables: webstack-glusterfs-server-firewall-table-webstack_nftables-table_loaded
{%- if webstack.systemd_booted %}
      - service: webstack-glusterfs-server-distro-service-dead
{%- endif %}
    - watch:
      - webstack_glusterfs: webstack-glusterfs-server-tls-webstack_glusterfs-tls_present

webstack-glusterfs-server-volume-webstack_glusterfs-volume_present:
  webstack_glusterfs.volume_present:
    - name: {{ g.volume }}
    - brick: {{ ((g.brick_host or '127.0.0.1') ~ ':' ~ g.brick_dir) | json }}
    - allow: {{ webstack.cluster.db_clients | json }}
    - ssl_allow: {{ g.ssl_allow | json }}
    - force: {{ g.force }}
    - require:
      - webstack_process: webstack-glusterfs-server-glusterd-webstack_process-running
      - file: webstack-glusterfs-server-brick-file-directory
    {#- its bricks read the certificates when they start: started again after a change #}
    - watch:
      - webstack_glusterfs: webstack-glusterfs-server-tls-webstack_glusterfs-tls_present
