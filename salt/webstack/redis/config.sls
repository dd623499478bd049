{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .package

{#- Holds the password: readable by redis only, and no diff in the output. #}
webstack-redis-config-file-managed:
  file.managed:
    - name: {{ webstack.redis_conf }}
    - source: salt://{{ tpldir }}/files/redis.conf.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: {{ webstack.redis_user }}
    - group: {{ webstack.redis_user }}
    - mode: '0640'
    - show_changes: False
    - require:
      - pkg: webstack-redis-package-pkg-installed
