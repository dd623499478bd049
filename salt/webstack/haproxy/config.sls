{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .package
{%- if webstack.tls.lb %}
  - {{ tplroot }}.tls
{%- elif not (webstack.tls.front or webstack.tls.lb) %}
  - {{ tplroot }}.tls.clean
{%- endif %}

webstack-haproxy-config-run-file-directory:
  file.directory:
    - name: {{ salt['file.dirname'](webstack.haproxy_admin_socket) }}
    - user: root
    - group: root
    - mode: '0755'
    - require:
      - pkg: webstack-haproxy-package-pkg-installed

{#- `haproxy -c` checks the candidate before it goes live. #}
webstack-haproxy-config-file-managed:
  file.managed:
    - name: {{ webstack.haproxy_conf }}
    - source: salt://{{ tpldir }}/files/haproxy.cfg.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: root
    - mode: '0644'
    - check_cmd: {{ (webstack.haproxy_bin | quote ~ ' -c -q -f') | json }}
    - require:
      - pkg: webstack-haproxy-package-pkg-installed
{%- if webstack.tls.lb %}
      - {{ webstack.tls.requisite | yaml(False) }}
{%- endif %}
