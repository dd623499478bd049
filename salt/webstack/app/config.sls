{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set app = webstack.app %}
{#- Where a web server runs (Nginx, or Apache for mod_wsgi), its group reads
    uploads and reaches the socket. #}
{%- set web_group = webstack.web_user if webstack.serves_http else app.user %}
{#- The shared uploads are one directory for every node: the same group on each,
    the web server's, which Debian fixes (www-data, gid 33). #}
{%- set media_group = webstack.web_user if webstack.glusterfs.shared else web_group %}
include:
  - .user
{%- if webstack.glusterfs.shared %}
  - {{ tplroot }}.glusterfs.client
{%- endif %}
{%- if webstack.serves_http %}
  - {{ tplroot }}.{{ webstack.front }}.package
{%- endif %}

{#- Code and releases belong to root; the app's user writes only uploads. #}
{%- for dir in [app.base_dir, app.releases_dir, app.shared_dir] %}
webstack-app-config-{{ dir }}-file-directory:
  file.directory:
    - name: {{ dir }}
    - user: root
    - group: root
    - mode: '0755'
    - makedirs: True
{%- endfor %}

{#- setgid and the web server's group: nginx reads uploads. #}
webstack-app-config-media-file-directory:
  file.directory:
    - name: {{ app.media_dir }}
    - user: {{ app.user }}
    - group: {{ media_group }}
    - mode: '2770'
    - require:
{%- if webstack.glusterfs.shared %}
      - mount: webstack-glusterfs-client-mount-mounted
{%- endif %}
      - user: webstack-app-user-user-present
      - file: webstack-app-config-{{ app.shared_dir }}-file-directory
{%- if webstack.serves_http %}
      - pkg: webstack-{{ webstack.front }}-package-pkg-installed
{%- endif %}

webstack-app-config-run-file-directory:
  file.directory:
    - name: {{ app.run_dir }}
    - user: {{ app.user }}
    - group: {{ web_group }}
    - mode: '2750'
    - require:
      - user: webstack-app-user-user-present
      - file: webstack-app-config-{{ app.base_dir }}-file-directory
{%- if webstack.serves_http %}
      - pkg: webstack-{{ webstack.front }}-package-pkg-installed
{%- endif %}

webstack-app-config-dir-file-directory:
  file.directory:
    - name: {{ app.config_dir }}
    - user: root
    - group: {{ app.user }}
    - mode: '0750'
    - makedirs: True
    - require:
      - group: webstack-app-user-group-present

{#- Secrets: root-owned, readable by the app's group only, never diffed in output. #}
webstack-app-config-file-managed:
  file.managed:
    - name: {{ app.config_file }}
    - source: salt://{{ tpldir }}/files/app.env.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: {{ app.user }}
    - mode: '0640'
    - show_changes: False
    - require:
      - file: webstack-app-config-dir-file-directory

{#- The app's entry: the settings above into the environment, then the WSGI
    callable (Gunicorn, uWSGI, mod_wsgi) or the command (Celery). No secret in
    it; the web server's user reads it for mod_wsgi. #}
webstack-app-config-entry-dir-file-directory:
  file.directory:
    - name: {{ app.entry_dir }}
    - user: root
    - group: root
    - mode: '0755'
    - require:
      - file: webstack-app-config-{{ app.base_dir }}-file-directory

webstack-app-config-entry-file-managed:
  file.managed:
    - name: {{ app.entry }}
    - source: salt://{{ tpldir }}/files/entry.py.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: root
    - mode: '0644'
    - check_cmd: {{ (webstack.pkgs.python[0] | quote ~ ' -I -m py_compile') | json }}
    - require:
      - file: webstack-app-config-entry-dir-file-directory
