{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .package

webstack-memcached-config-file-managed:
  file.managed:
    - name: {{ webstack.memcached_conf }}
    - source: salt://{{ tpldir }}/files/memcached.conf.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - pkg: webstack-memcached-package-pkg-installed
