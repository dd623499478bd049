{#- An app or worker node of a cluster with a storage node: the shared uploads
    (the storage node's GlusterFS volume) mounted where the releases keep
    uploads, in /etc/fstab, so that a reboot or `mount -a` mounts them again. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set g = webstack.glusterfs %}
{#- Without the storage node's address in the mine, webstack.validate (first,
    failhard) stops the run, naming the node: nothing below runs. #}
include:
  - {{ tplroot }}.validate

webstack-glusterfs-client-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.glusterfs_client | json }}

webstack-glusterfs-client-mount-mounted:
  mount.mounted:
    - name: {{ webstack.app.media_dir }}
    - device: {{ ((g.server or '127.0.0.1') ~ ':/' ~ g.volume) | json }}
    - fstype: glusterfs
    - opts: [defaults, _netdev]
    - mkmnt: True
    - persist: True
    - require:
      - pkg: webstack-glusterfs-client-package-pkg-installed
