{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - {{ tplroot }}.validate

webstack-varnish-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.varnish | json }}
{%- if webstack.systemd_booted %}

{#- Supervisord runs Varnish (as it runs HAProxy): the package's own unit stays
    off, or it would hold its ports with the package's VCL. #}
webstack-varnish-package-distro-service-dead:
  service.dead:
    - name: {{ webstack.services.varnish }}
    - enable: False
    - init_delay: 1
    - require:
      - pkg: webstack-varnish-package-pkg-installed
{%- endif %}
