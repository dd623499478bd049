{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set app = webstack.app %}
include:
  - .package
  - {{ tplroot }}.app.config
{%- if webstack.tls.front %}
  - {{ tplroot }}.tls
{%- elif not (webstack.tls.front or webstack.tls.lb) %}
  - {{ tplroot }}.tls.clean
{%- endif %}

{#- mod_wsgi's entry point: it puts the app's environment (the config file's
    path, the settings module) into os.environ, which Apache does not pass on,
    then imports app:wsgi_app. No secret in it; Apache's user must read it. #}
webstack-apache-config-wsgi-script-file-managed:
  file.managed:
    - name: {{ app.wsgi_script }}
    - source: salt://{{ tpldir }}/files/app.wsgi.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: root
    - mode: '0644'
    - check_cmd: {{ (webstack.pkgs.python[0] | quote ~ ' -m py_compile') | json }}
    - require:
      - file: webstack-app-config-{{ app.base_dir }}-file-directory

{#- The whole apache2.conf, so that `apachectl configtest` (-t) checks exactly
    what goes live. #}
webstack-apache-config-file-managed:
  file.managed:
    - name: {{ webstack.apache_conf }}
    - source: salt://{{ tpldir }}/files/apache2.conf.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: root
    - mode: '0644'
    - check_cmd: {{ (webstack.apache_ctl | quote ~ ' -t -f') | json }}
    - require:
      - pkg: webstack-apache-package-pkg-installed
{%- if webstack.tls.front %}
      - {{ webstack.tls.requisite | yaml(False) }}
{%- endif %}
      - file: webstack-apache-config-wsgi-script-file-managed
