{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
include:
  - .package

{#- After Debian's 50-server.cnf, so that its bind-address and character set are
    these. #}
webstack-mariadb-config-file-managed:
  file.managed:
    - name: {{ webstack.mariadb_conf_dir }}/60-webstack.cnf
    - source: salt://{{ tpldir }}/files/webstack.cnf.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - pkg: webstack-mariadb-package-pkg-installed
{%- if webstack.mariadb.tls %}

{#- A cluster's db node: a self-signed certificate (ECDSA P-256) for its private
    address, which the app and worker nodes' client encrypts to (Debian 13's
    Connector/C also verifies it through the account's password). Made again when
    the address changes, or 30 days before it expires; the key is MariaDB's alone.
    A new one restarts MariaDB (it reads them when it starts). #}
{%- set dir = webstack.mariadb_tls_dir %}
{%- set address = webstack.cluster.addresses.get(grains['id']) or '127.0.0.1' %}
{%- set want = 'IP:' ~ address ~ ' 3650' %}
webstack-mariadb-config-openssl-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.openssl | json }}

webstack-mariadb-config-certificate-cmd-run:
  cmd.run:
    - name: |
        set -e
        umask 077
        mkdir -p {{ dir | quote }}
        chmod 0755 {{ dir | quote }}
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 3650 \
            -subj {{ ('/CN=' ~ address) | quote }} -addext {{ ('subjectAltName=IP:' ~ address) | quote }} \
            -addext 'extendedKeyUsage=serverAuth' \
            -keyout "$tmp/key" -out "$tmp/crt" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
        chown {{ webstack.mariadb_user }}: "$tmp/key"
        chmod 0644 "$tmp/crt"
        mv -f "$tmp/key" {{ (dir ~ '/server.key') | quote }}
        mv -f "$tmp/crt" {{ (dir ~ '/server.crt') | quote }}
        printf '%s\n' {{ want | quote }} > {{ (dir ~ '/server.spec') | quote }}
    - unless: {{ ('test -s ' ~ (dir ~ '/server.key') | quote ~ ' && test "$(cat ' ~ (dir ~ '/server.spec') | quote
                  ~ ' 2>/dev/null)" = ' ~ want | quote ~ ' && openssl x509 -in ' ~ (dir ~ '/server.crt') | quote
                  ~ ' -noout -checkend 2592000 >/dev/null') | json }}
    - require:
      - pkg: webstack-mariadb-config-openssl-pkg-installed
      - pkg: webstack-mariadb-package-pkg-installed
    - require_in:
      - file: webstack-mariadb-config-file-managed
{%- endif %}
