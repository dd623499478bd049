{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - {{ tplroot }}.validate

webstack-haproxy-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.haproxy | json }}

{#- Supervisord runs HAProxy (one way to reload everywhere): the package's own
    service stays off, or it would hold the port and the admin socket. #}
webstack-haproxy-package-distro-service-dead:
  service.dead:
    - name: {{ webstack.services.haproxy }}
    - enable: False
    - init_delay: 1
    - require:
      - pkg: webstack-haproxy-package-pkg-installed
