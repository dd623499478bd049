{#- Nginx stopped and disabled (wsgi:server mod_wsgi: Apache serves instead).
    The package and its files stay; the next switch back rewrites nginx.conf. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- from tplroot ~ "/boot.jinja" import boot_links with context %}

webstack-nginx-clean-service-dead:
  service.dead:
    - name: {{ webstack.services.nginx }}
{%- if webstack.systemd_booted %}
    - enable: False
{%- endif %}
    - init_delay: 1
    - onlyif: {{ ('test -e ' ~ ('/etc/init.d/' ~ webstack.services.nginx) | quote ~ ' -o -e '
                  ~ ('/lib/systemd/system/' ~ webstack.services.nginx ~ '.service') | quote) | json }}

{{ boot_links('webstack-nginx-clean', webstack, webstack.services.nginx, False,
               {'service': 'webstack-nginx-clean-service-dead'}) }}
