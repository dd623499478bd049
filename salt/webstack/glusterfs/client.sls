{#- An app or worker node of a cluster with a storage node: the shared uploads
    (the storage node's GlusterFS volume) mounted where the releases keep
    uploads, in /etc/fstab, so that a reboot or `mount -a` mounts them again. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set g = webstack.glusterfs %}
{%- set app = webstack.app %}
{%- set device = (g.server or '127.0.0.1') ~ ':/' ~ g.volume %}
{#- Without the storage node's address in the mine, webstack.validate (first,
    failhard) stops the run, naming the node: nothing below runs. #}
include:
  - {{ tplroot }}.validate
  - {{ tplroot }}.app.user

webstack-glusterfs-client-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.glusterfs_client | json }}

{#- Uploads that this node kept before the cluster had a storage node: copied into
    the volume by the app's user (a file already there wins), then the directory
    moved aside to media.local-<time> (kept: remove it once you have checked), so
    that the mount hides nothing. An upload in the seconds between the copy and the
    move stays in the kept directory. #}
webstack-glusterfs-client-local-uploads-cmd-run:
  cmd.run:
    - name: |
        set -e
        tmp=$(mktemp -d)
        trap 'umount "$tmp" 2>/dev/null || true; rmdir "$tmp"' EXIT
        mount -t glusterfs {{ device | quote }} "$tmp"
        chown {{ app.user }}:{{ webstack.web_user }} "$tmp"
        chmod 2770 "$tmp"
        runuser -u {{ app.user }} -- cp -rn --preserve=mode,timestamps {{ (app.media_dir ~ '/.') | quote }} "$tmp/"
        umount "$tmp"
        mv {{ app.media_dir | quote }} {{ app.media_dir | quote }}.local-$(date -u +%Y%m%dT%H%M%SZ)
    - onlyif: {{ ('! mountpoint -q ' ~ app.media_dir | quote ~ ' && [ -n "$(ls -A ' ~ app.media_dir | quote
                  ~ ' 2>/dev/null)" ]') | json }}
    - require:
      - pkg: webstack-glusterfs-client-package-pkg-installed
      - user: webstack-app-user-user-present
      - webstack_glusterfs: webstack-glusterfs-client-tls-webstack_glusterfs-tls_present

{#- This node's key and certificate, the storage node's certificate trusted (from the
    mine), TLS for the management connection: the mount reads them when it starts. #}
webstack-glusterfs-client-tls-webstack_glusterfs-tls_present:
  webstack_glusterfs.tls_present:
    - name: /etc/ssl/glusterfs.ca
    - peers: {{ g.peers | json }}
    - require:
      - pkg: webstack-glusterfs-client-package-pkg-installed

{#- A mount made before TLS (or before the storage node's certificate changed) is
    made again with it (from its fstab line): the volume speaks TLS only. findmnt reads
    the mount table (a mount that lost its server fails a stat); a busy one is let go
    lazily. #}
webstack-glusterfs-client-remount-cmd-run:
  cmd.run:
    - name: (umount {{ app.media_dir | quote }} || umount -l {{ app.media_dir | quote }}) && mount {{ app.media_dir | quote }}
    - onlyif: findmnt -rn --mountpoint {{ app.media_dir | quote }}
    - onchanges:
      - webstack_glusterfs: webstack-glusterfs-client-tls-webstack_glusterfs-tls_present

webstack-glusterfs-client-mount-mounted:
  mount.mounted:
    - name: {{ app.media_dir }}
    - device: {{ device | json }}
    - fstype: glusterfs
    - opts: [defaults, _netdev]
    - mkmnt: True
    - persist: True
    - require:
      - pkg: webstack-glusterfs-client-package-pkg-installed
      - cmd: webstack-glusterfs-client-local-uploads-cmd-run
      - cmd: webstack-glusterfs-client-remount-cmd-run
