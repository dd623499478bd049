{#- TLS turned off (tls:enabled false) where it used to end: the certificate and
    its private key do not stay behind. Last, once the web server or the load
    balancer runs a config that no longer reads them. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}

{%- for name in ('pem', 'crt', 'spec') %}
webstack-tls-{{ name }}-file-absent:
  file.absent:
    - name: {{ webstack.tls[name] }}
    - order: last
{%- endfor %}
