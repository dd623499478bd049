{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set app = webstack.app %}
include:
  - {{ tplroot }}.validate

{#- app:uid fixes the uid (and the group's gid): the shared uploads are written as
    one uid from every node. usermod re-owns the files under the home directory
    when it changes. #}
webstack-app-user-group-present:
  group.present:
    - name: {{ app.user }}
    - system: True
{%- if app.uid is not none %}
    - gid: {{ app.uid }}
{%- endif %}

webstack-app-user-user-present:
  user.present:
    - name: {{ app.user }}
    - gid: {{ app.user }}
    - system: True
{%- if app.uid is not none %}
    - uid: {{ app.uid }}
{%- endif %}
    - home: {{ app.base_dir }}
    - createhome: False
    - shell: /usr/sbin/nologin
    - require:
      - group: webstack-app-user-group-present

{#- The releases' builder: a user and a group of its own, in no group of the app's (it
    reads no secret file), that writes only the release being built and its caches
    (webstack_release.build makes its home and hands it a release's directories, then
    takes them back). #}
webstack-app-user-build-group-present:
  group.present:
    - name: {{ app.build_user }}
    - system: True

webstack-app-user-build-user-present:
  user.present:
    - name: {{ app.build_user }}
    - gid: {{ app.build_user }}
    - groups: []
    - system: True
    - home: {{ app.build_home }}
    - createhome: False
    - shell: /usr/sbin/nologin
    - require:
      - group: webstack-app-user-build-group-present

{#- The build user schedules nothing: a build's code that ran once never runs again
    by cron or at (webstack_release.build also removes a crontab it finds). #}
{%- for scheduler in ['cron', 'at'] %}

webstack-app-user-build-{{ scheduler }}-deny-file-append:
  file.append:
    - name: /etc/{{ scheduler }}.deny
    - text: {{ app.build_user }}
    - require:
      - user: webstack-app-user-build-user-present
{%- endfor %}
