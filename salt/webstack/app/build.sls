{#- orch.deploy, step "build": the new release, complete, on every app and
    worker node at once, before any node switches to it. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/app/release.jinja" import release_args %}
{%- set app = webstack.app %}
include:
  - .package
  - .config

webstack-app-build-webstack_release-built:
  webstack_release.built:
{{- release_args(webstack) }}
    - require:
      - pkg: webstack-app-package-pkg-installed
      - file: webstack-app-config-file-managed
      - file: webstack-app-config-{{ app.releases_dir }}-file-directory
      - user: webstack-app-user-build-user-present
