{#- A cache node of a cluster: Memcached listens on the private address and has no
    authentication that Django's clients use, so only the app and worker nodes
    (their addresses from the mine) reach its port: a table of nftables rules of its
    own, checked before it goes live and loaded before Memcached listens there.
    Where systemd runs Memcached, a drop-in loads the table again each time it
    starts (at boot too). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set rules = '/etc/webstack/memcached-firewall.nft' %}
include:
  - {{ tplroot }}.validate

webstack-memcached-firewall-nftables-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.nftables | json }}

webstack-memcached-firewall-rules-file-managed:
  file.managed:
    - name: {{ rules }}
    - source: salt://{{ tpldir }}/files/firewall.nft.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
    - check_cmd: nft -c -f
    - require:
      - pkg: webstack-memcached-firewall-nftables-pkg-installed

webstack-memcached-firewall-table-webstack_nftables-table_loaded:
  webstack_nftables.table_loaded:
    - name: webstack_memcached
    - path: {{ rules }}
    - require:
      - file: webstack-memcached-firewall-rules-file-managed
{%- if webstack.systemd_booted %}

webstack-memcached-firewall-boot-file-managed:
  file.managed:
    - name: /etc/systemd/system/{{ webstack.services.memcached }}.service.d/webstack-firewall.conf
    - contents: |
        # Managed by Salt (webstack): the firewall of Memcached's port, before it listens.
        [Service]
        ExecStartPre=/usr/sbin/nft -f {{ rules }}
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: webstack-memcached-firewall-boot-file-managed
{%- endif %}
