{#- TLS turned off (tls:enabled false) where it used to end: the certificate and
    its private key do not stay behind. Last, once the web server or the load
    balancer runs a config that no longer reads them. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}

{%- for name, path in [('pem', webstack.tls.pem), ('crt', webstack.tls.crt),
                       ('spec', webstack.tls_dir ~ '/' ~ webstack.app.name ~ '.self-signed')] %}
webstack-tls-{{ name }}-file-absent:
  file.absent:
    - name: {{ path }}
    - order: last
{%- endfor %}
