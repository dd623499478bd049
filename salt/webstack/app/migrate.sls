{#- orch.deploy, step "migrations": once, on the first app node, in the release
    that the build step made, before any node switches to it. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/app/release.jinja" import release_args %}
include:
  - .build

webstack-app-migrate-webstack_release-migrated:
  webstack_release.migrated:
{{- release_args(webstack) }}
    - require:
      - webstack_release: webstack-app-build-webstack_release-built
