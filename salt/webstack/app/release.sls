{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/app/release.jinja" import release_args %}
{%- set app = webstack.app %}
include:
  - .package
  - .config

{#- Builds a release only when the source, the requirements or the settings (the
    config file's content is part of the fingerprint) changed; the WSGI server and
    the workers watch this state to reload. In orch.deploy's rollout
    (webstack_orch:switch_only) it only switches to the release that the build
    step made and migrated: it never builds one there. #}
webstack-app-release-webstack_release-deployed:
  webstack_release.deployed:
{{- release_args(webstack) }}
    - migrate: {{ app.migrate | json }}
    - post_deploy_commands: {{ app.post_deploy_commands | json }}
    - keep: {{ app.keep_releases }}
    - build: {{ not salt['pillar.get']('webstack_orch:switch_only', False) }}
    - require:
      - pkg: webstack-app-package-pkg-installed
      - file: webstack-app-config-file-managed
      - file: webstack-app-config-{{ app.releases_dir }}-file-directory
      - user: webstack-app-user-build-user-present
