{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set app = webstack.app %}
include:
  - .package
  - .config

{#- Builds a release only when the source, the requirements or the settings (the
    config file's content is part of the fingerprint) changed; the WSGI server and
    the workers watch this state to reload. #}
webstack-app-release-webstack_release-deployed:
  webstack_release.deployed:
    - name: {{ app.base_dir }}
    - source: {{ app.source }}
    - rev: {{ app.rev | json }}
    - settings_file: {{ app.config_file }}
    - requirements: {{ app.requirements | json }}
    - python: {{ app.python }}
    - build_commands: {{ app.build_commands | json }}
    - migrate: {{ app.migrate | json }}
    - migrate_commands: {{ app.migrate_commands | json }}
    - post_deploy_commands: {{ app.post_deploy_commands | json }}
    - env:
        DJANGO_SETTINGS_MODULE: {{ app.django_settings_module | json }}
    - user: {{ app.user }}
    - keep: {{ app.keep_releases }}
    - require:
      - pkg: webstack-app-package-pkg-installed
      - file: webstack-app-config-file-managed
      - file: webstack-app-config-{{ app.releases_dir }}-file-directory
