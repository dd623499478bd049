{#- A cache node of a cluster: Memcached listens on the private address and has no
    authentication that Django's clients use, so only the app and worker nodes
    (their addresses from the mine) reach its port: a table of nftables rules of its
    own, checked before it goes live and loaded before Memcached listens there.
    Where systemd runs Memcached, a drop-in loads the table again each time it
    starts (at boot too). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/firewall.jinja" import firewall, rules_file with context %}
{%- set rules = rules_file('memcached') %}
include:
  - {{ tplroot }}.validate

{{ firewall('webstack-memcached-firewall', webstack, 'memcached', "Memcached's port", [webstack.memcached.port],
            webstack.cluster.db_clients, 'the app and worker nodes (from the mine)') }}
{%- if webstack.systemd_booted %}

webstack-memcached-firewall-boot-file-managed:
  file.managed:
    - name: /etc/systemd/system/{{ webstack.services.memcached }}.service.d/webstack-firewall.conf
    - contents: |
        # Managed by Salt (webstack): the firewall of Memcached's port, before it listens.
        [Service]
        ExecStartPre={{ webstack.nft_bin }} -f {{ rules }}
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: webstack-memcached-firewall-boot-file-managed
{%- endif %}
