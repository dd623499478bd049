{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/boot.jinja" import boot_links with context %}
include:
  - .config
  - {{ tplroot }}.app.release

{#- A config change: `graceful` (the init script's reload, checked with
    `apachectl configtest` first). #}
webstack-apache-service-running:
  service.running:
    - name: {{ webstack.services.apache }}
{%- if webstack.systemd_booted %}
    - enable: True
{%- endif %}
    - reload: True
    - require:
      - file: webstack-app-config-run-file-directory
      - file: webstack-app-config-media-file-directory
      - webstack_release: webstack-app-release-webstack_release-deployed
    - watch:
      - file: webstack-apache-config-file-managed
      - file: webstack-apache-config-wsgi-script-file-managed

{#- A new release: the mod_wsgi script is touched. Each daemon process sees the
    new time at its next request, restarts from `current` and Apache hands that
    request to a process that runs the new release: no request is dropped. A
    graceful restart would close the clients' idle keep-alive connections and
    remove the old daemon socket under requests in flight. #}
webstack-apache-service-wsgi-script-file-touch:
  file.touch:
    - name: {{ webstack.app.wsgi_script }}
    - onchanges:
      - webstack_release: webstack-app-release-webstack_release-deployed
    - require:
      - service: webstack-apache-service-running
{{ boot_links('webstack-apache-service', webstack, webstack.services.apache, True,
               {'service': 'webstack-apache-service-running'}) }}
