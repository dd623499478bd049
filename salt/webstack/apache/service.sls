{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/boot.jinja" import boot_links with context %}
include:
  - .config
  - {{ tplroot }}.app.release
  - {{ tplroot }}.nginx.clean

{#- Nginx goes first (the same port). A config change: `graceful` (the init
    script's reload; the config passed `apachectl configtest` before it went live). #}
webstack-apache-service-running:
  service.running:
    - name: {{ webstack.services.apache }}
{%- if webstack.systemd_booted %}
    - enable: True
{%- endif %}
    - reload: True
    - require:
      - service: webstack-nginx-clean-service-dead
      - file: webstack-app-config-run-file-directory
      - file: webstack-app-config-media-file-directory
      - webstack_release: webstack-app-release-webstack_release-deployed
    - watch:
      - file: webstack-apache-config-file-managed
      - file: webstack-app-config-entry-file-managed
{%- if webstack.tls.front %}
      - {{ webstack.tls.requisite | yaml(False) }}
{%- endif %}

{#- A new release: the mod_wsgi daemon processes restart one at a time (SIGUSR1),
    each replacement loading the app from `current` before it takes requests,
    while the others serve. Apache's graceful would restart all of them at once
    and close its clients' idle keep-alive connections. #}
webstack-apache-service-webstack_wsgi-reloaded:
  webstack_wsgi.reloaded:
    - name: {{ webstack.app.ident }}
    - server: mod_wsgi
    - processes: {{ webstack.wsgi.workers }}
    - timeout: {{ webstack.wsgi.reload_timeout }}
    - require:
      - service: webstack-apache-service-running
    - watch:
      - webstack_release: webstack-app-release-webstack_release-deployed

{{ boot_links('webstack-apache-service', webstack, webstack.services.apache, True,
               {'service': 'webstack-apache-service-running'}) }}
