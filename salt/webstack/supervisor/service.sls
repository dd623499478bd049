{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .package

webstack-supervisor-service-running:
  service.running:
    - name: {{ webstack.services.supervisor }}
    - enable: True
    - require:
      - pkg: webstack-supervisor-package-pkg-installed
