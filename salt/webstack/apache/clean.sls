{#- Apache stopped and disabled (another wsgi:server was chosen). The package and
    its files stay; the next switch back rewrites apache2.conf. The app's entry
    (its mod_wsgi script) serves the other servers too. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/boot.jinja" import boot_links with context %}

webstack-apache-clean-service-dead:
  service.dead:
    - name: {{ webstack.services.apache }}
{%- if webstack.systemd_booted %}
    - enable: False
{%- endif %}
    - init_delay: 1
    - onlyif: {{ ('test -e ' ~ ('/etc/init.d/' ~ webstack.services.apache) | quote ~ ' -o -e '
                  ~ ('/lib/systemd/system/' ~ webstack.services.apache ~ '.service') | quote) | json }}

{{ boot_links('webstack-apache-clean', webstack, webstack.services.apache, False,
               {'service': 'webstack-apache-clean-service-dead'}) }}
