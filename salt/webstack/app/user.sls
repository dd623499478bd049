{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set app = webstack.app %}
include:
  - {{ tplroot }}.validate

webstack-app-user-group-present:
  group.present:
    - name: {{ app.user }}
    - system: True

webstack-app-user-user-present:
  user.present:
    - name: {{ app.user }}
    - gid: {{ app.user }}
    - system: True
    - home: {{ app.base_dir }}
    - createhome: False
    - shell: /usr/sbin/nologin
    - require:
      - group: webstack-app-user-group-present
