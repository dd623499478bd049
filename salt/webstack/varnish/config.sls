{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .package

{#- `varnishd -C` compiles the candidate before it goes live. #}
webstack-varnish-config-file-managed:
  file.managed:
    - name: {{ webstack.varnish_vcl }}
    - source: salt://{{ tpldir }}/files/webstack.vcl.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: root
    - mode: '0644'
    - check_cmd: {{ (webstack.varnish_bin | quote ~ ' -C -f') | json }}
    - require:
      - pkg: webstack-varnish-package-pkg-installed
